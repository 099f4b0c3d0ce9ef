package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"crsc/training/data"
	"crsc/training/train"
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
			splits, err := evalSplits(c.Data, c.Task)
			if err != nil {
				return err
			}
			dev, err := openDevice(device, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer dev.Close()
			c.Device = dev
			w := cmd.OutOrStdout()
			for _, split := range splits {
				c.Data = split.Path
				m, err := train.Evaluate(c)
				if err != nil {
					return err
				}
				prefix := ""
				if len(splits) > 1 {
					prefix = split.Name + " "
				}
				printMetrics(w, prefix, m)
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

// evalSplits are the files eval scores: the file given, or in a folder
// (as train's --data takes) the task's evaluation splits: dev, or MNLI's
// dev_matched and dev_mismatched.
func evalSplits(path, taskName string) ([]data.Split, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--data: %v", err)
	}
	if !fi.IsDir() {
		return []data.Split{{Name: "dev", Path: path}}, nil
	}
	if task, err := data.LookupTask(taskName); err == nil && len(task.DevSplits) > 1 {
		splits, err := data.FindDev(path, task)
		if err != nil {
			return nil, fmt.Errorf("--data: %v", err)
		}
		return splits, nil
	}
	p, err := data.Find(path, "dev")
	if err != nil {
		return nil, fmt.Errorf("--data: %v", err)
	}
	return []data.Split{{Name: "dev", Path: p}}, nil
}
