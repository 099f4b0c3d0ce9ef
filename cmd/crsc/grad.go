package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"crsc/internal/npy"
	"crsc/ir"
	"crsc/passes"
	"crsc/runtime"
)

func gradCommand() *cobra.Command {
	var inputs, cotangents []string
	var out, device string
	var seed uint64
	var flags trainingFlags
	cmd := &cobra.Command{
		Use:   "grad MODEL --input NAME=FILE.npy ... --cotangent OUTPUT=FILE.npy --out DIR",
		Short: "Write the gradient of sum(output ⊙ cotangent) for every trained parameter",
		Long: `Builds MODEL's backward graph for the vector-Jacobian product
sum(OUTPUT ⊙ COTANGENT), runs it on the given inputs, and writes DIR/<param>.npy
for every trained parameter (every character outside [A-Za-z0-9._-] becomes '_').
Trained parameters are the float initializers the output depends on, narrowed
by --train and --freeze. With --keep < 1 the weight gradients of linear layers
are WTA-CRS estimates (--estimator, --seed pick the sample).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTrainingFlags(&flags); err != nil {
				return err
			}
			if cmd.Flags().Changed("gnorm") {
				return fmt.Errorf("--gnorm: grad runs one step, with no ‖G‖ history to draw on (it uses none); leave --gnorm out")
			}
			dev, err := openDevice(device, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer dev.Close()
			if out == "" {
				return fmt.Errorf("--out DIR is required")
			}
			if len(cotangents) != 1 {
				return fmt.Errorf("give exactly one --cotangent OUTPUT=FILE.npy")
			}
			outName, cotPath, ok := strings.Cut(cotangents[0], "=")
			if !ok || outName == "" {
				return fmt.Errorf("--cotangent %q: want OUTPUT=FILE.npy", cotangents[0])
			}
			feeds, err := readInputs(inputs)
			if err != nil {
				return err
			}
			cot, err := npy.ReadFile(cotPath)
			if err != nil {
				return err
			}
			g, err := loadModel(args[0], nil, nil)
			if err != nil {
				return err
			}
			if err := runtime.CheckInputs(g, feeds); err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			shapes := map[string]ir.Shape{}
			for name, t := range feeds {
				shapes[name] = ir.StaticShape(t.Shape...)
			}
			if g, err = loadModel(args[0], shapes, nil); err != nil {
				return err
			}
			if err := checkCotangent(g, cotangents[0], outName, cot); err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			if err := checkLoRABound(g, flags.lora); err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			spec := flags.spec()
			spec.Loss = passes.LossSpec{Kind: passes.LossVJP, Output: outName}
			spec.Sampling.GNorm = "none" // one step: no ‖G‖ history to draw on
			compiled, err := passes.Compile(g, spec)
			if err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			if err := firstError(checkLoRAAdapters(compiled, flags.lora), checkLayersMatched(&flags, compiled)); err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			trained := compiled.Trained
			feeds[outName+"_cotangent"] = cot
			results, err := dev.Run(g, feeds, runtime.Options{Seed: seed})
			if err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			for _, p := range trained {
				path := filepath.Join(out, npy.SafeName(p.Param.Name)+".npy")
				if err := npy.WriteFile(path, results[p.Grad.Name]); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d gradients to %s (loss %v)\n", len(trained), out, results[passes.LossName])
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "input NAME=FILE.npy (repeat for each input)")
	cmd.Flags().StringArrayVar(&cotangents, "cotangent", nil, "OUTPUT=FILE.npy: the output to differentiate and its cotangent")
	cmd.Flags().StringVar(&out, "out", "", "folder for the gradient .npy files")
	flags.register(cmd, false)
	cmd.Flags().StringVar(&device, "device", "cpu", deviceHelp)
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed for Dropout masks and WTA-CRS sampling")
	return cmd
}

// checkCotangent checks the cotangent array against the output it is for
// (dtype, and shape once the inputs have bound it), so that a mismatch
// names the flag rather than the graph input the VJP adds for it.
func checkCotangent(g *ir.Graph, flag, output string, cot *ir.Tensor) error {
	for _, v := range g.Outputs {
		if v.Name != output {
			continue
		}
		want, static := v.Shape.Ints()
		switch {
		case cot.DType != v.DType:
			return fmt.Errorf("--cotangent %s: the array is %v, output %q is %v", flag, cot.DType, output, v.DType)
		case v.HasShape && static && fmt.Sprint(want) != fmt.Sprint(cot.Shape):
			return fmt.Errorf("--cotangent %s: the array has shape %v, output %q has %v for these inputs", flag, cot.Shape, output, want)
		}
		return nil
	}
	return nil // an unknown output is reported by the loss pass, with the outputs it has
}
