package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"crsc/data"
	"crsc/train"
)

// evalCommand wires `crsc eval`: score an exported model on a data file.
func evalCommand() *cobra.Command {
	var c train.EvalConfig
	var device string
	var ex exportFlags
	cmd := &cobra.Command{
		Use:   "eval MODEL.onnx|FOLDER --task TASK --data FILE [--vocab VOCAB.txt | --tokenizer tokenizer.json]",
		Short: "Score a model on a labelled data file with the task's metric",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c.Model = args[0]
			if c.Task == "" || c.Data == "" {
				return fmt.Errorf("--task and --data are required")
			}
			var err error
			if c.Custom, err = ex.custom(cmd, c.Task); err != nil {
				return err
			}
			if err := firstError(
				checkInt("max-len", c.MaxLen, 4, noLimit),
				checkInt("tgt-len", c.TgtLen, 0, noLimit),
				checkInt("batch", c.Batch, 1, noLimit),
				checkInt("threads", c.Threads, 0, noLimit),
			); err != nil {
				return err
			}
			// A folder, as train's --data takes: its dev split.
			if fi, err := os.Stat(c.Data); err != nil {
				return fmt.Errorf("--data: %v", err)
			} else if fi.IsDir() {
				if c.Data, err = data.Find(c.Data, "dev"); err != nil {
					return fmt.Errorf("--data: %v", err)
				}
			}
			dev, err := openDevice(device, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer dev.Close()
			c.Device = dev
			m, err := train.Evaluate(c)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, k := range []string{"accuracy", "f1", "matthews", "pearson", "spearman"} {
				if v, ok := m[k]; ok {
					fmt.Fprintf(w, "%-9s %.4f\n", k+":", v)
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&c.Task, "task", "", taskHelp)
	fl.StringVar(&c.Data, "data", "", "a labelled .tsv, .jsonl or .csv file, or a folder with dev.*")
	fl.StringVar(&c.Vocab, "vocab", "", "WordPiece vocab.txt")
	fl.StringVar(&c.TokenizerFile, "tokenizer", "", "Hugging Face tokenizer.json: WordPiece (BERT family) or Unigram (T5); default: the one beside the model")
	fl.IntVar(&c.TgtLen, "tgt-len", 0, "T5 target length (0: the longest label word's)")
	fl.IntVar(&c.MaxLen, "max-len", 128, "sequence length")
	fl.IntVar(&c.Batch, "batch", 32, "examples per batch")
	fl.IntVar(&c.Threads, "threads", 0, "CPU threads (0: all cores)")
	fl.StringVar(&device, "device", "cpu", deviceHelp)
	ex.register(cmd, &c.Export, false)
	return cmd
}
