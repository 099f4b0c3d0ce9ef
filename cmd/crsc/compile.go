package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"crsc/compiler/passes"
	"crsc/training/artifacts"
	"crsc/training/optim"
)

func compileCommand() *cobra.Command {
	var shapeSpecs []string
	var out string
	var flags trainingFlags
	cmd := &cobra.Command{
		Use:   "compile MODEL [--loss KIND --output NAME] [--train RE] [--freeze RE] [--shape NAME=DIMS ...] -o DIR",
		Short: "Build the training artifacts: training, eval and optimizer models and a checkpoint",
		Long: `Derives MODEL's training graph (forward, loss, and a <param>_grad output per
trained parameter) and writes, in DIR, the layout ONNX Runtime training uses:
training_model.onnx, eval_model.onnx, optimizer_model.onnx (AdamW) and
checkpoint.safetensors.

The loss is the model's scalar "loss" output when it has one, else
cross-entropy on its logits (adds an int64 "labels" input); --loss picks
cross-entropy, mse (adds "targets") or vjp (adds "<output>_cotangent"),
applied to --output. MODEL may be a folder holding model.onnx.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("-o DIR is required")
			}
			if err := checkTrainingFlags(&flags); err != nil {
				return err
			}
			shapes, err := shapeFlags(shapeSpecs)
			if err != nil {
				return err
			}
			g, err := loadModel(args[0], shapes, nil)
			if err != nil {
				return err
			}
			if err := checkLoRABound(g, flags.lora); err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			forwardNodes := len(g.Nodes)
			spec := flags.spec()
			if spec.Loss.Kind == "" {
				if spec.Loss, err = passes.DefaultLoss(g); err != nil {
					return fmt.Errorf("%s: %v", args[0], err)
				}
			}
			set, err := artifacts.Build(g, spec, optim.DefaultAdamWConfig())
			if err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			// Checked on what was compiled, before anything is written.
			if err := firstError(checkLoRAAdapters(set.Compiled, flags.lora), checkLayersMatched(&flags, set.Compiled)); err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			if err := set.Write(out); err != nil {
				return err
			}
			var params, bytes int64
			for _, pg := range set.Trained {
				params += int64(pg.Param.Init.Len())
				bytes += pg.Param.Init.Bytes()
			}
			w := cmd.OutOrStdout()
			printLayerDecisions(w, set.Compiled)
			if flags.exact() {
				fmt.Fprintln(w, "wta-crs:   none: exact training graph (--keep 1 or --estimator exact; --keep K < 1 samples)")
			}
			fmt.Fprintf(w, "trained:   %d parameters in %d tensors (%s)\n", params, len(set.Trained), humanBytes(bytes))
			fmt.Fprintf(w, "graph:     %d forward nodes, %d backward nodes\n", forwardNodes, len(set.Training.Nodes)-forwardNodes)
			for _, f := range []string{artifacts.TrainingFile, artifacts.EvalFile, artifacts.OptimizerFile, artifacts.CheckpointFile} {
				fmt.Fprintf(w, "wrote      %s\n", filepath.Join(out, f))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&shapeSpecs, "shape", nil, "bind an input's shape, e.g. input_ids=8x128")
	cmd.Flags().StringVarP(&out, "out", "o", "", "folder for the artifacts")
	flags.register(cmd, true)
	flags.sampleByDefault()
	return cmd
}
