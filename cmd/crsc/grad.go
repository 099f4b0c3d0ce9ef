package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
	"crsc/internal/npy"
)

func gradCommand() *cobra.Command {
	a := &gradArgs{}
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
		RunE: a.run,
	}
	a.register(cmd, "folder for the gradient .npy files", "seed for Dropout masks and WTA-CRS sampling")
	cmd.Flags().StringArrayVar(&a.cotangents, "cotangent", nil, "OUTPUT=FILE.npy: the output to differentiate and its cotangent")
	a.flags.register(cmd, false)
	return cmd
}

// gradArgs are grad's flags as they are parsed.
type gradArgs struct {
	npyRun
	cotangents []string
	flags      trainingFlags
}

func (a *gradArgs) run(cmd *cobra.Command, args []string) error {
	if err := a.check(cmd); err != nil {
		return err
	}
	dev, feeds, err := a.start(cmd)
	if err != nil {
		return err
	}
	defer dev.Close()
	outName, cotPath, _ := strings.Cut(a.cotangents[0], "=")
	cot, err := npy.ReadFile(cotPath)
	if err != nil {
		return err
	}
	g, compiled, err := a.compile(args[0], feeds, outName, cot)
	if err != nil {
		return err
	}
	feeds[outName+"_cotangent"] = cot
	results, err := runOnce(dev, 0, g, feeds, a.seed)
	if err != nil {
		return fmt.Errorf("%s: %v", args[0], err)
	}
	for _, p := range compiled.Trained {
		if _, err := a.write(p.Param.Name, results[p.Grad.Name]); err != nil {
			return err
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %d gradients to %s (loss %v)\n", len(compiled.Trained), a.out, results[passes.LossName])
	return nil
}

// check refuses bad flags before any work.
func (a *gradArgs) check(cmd *cobra.Command) error {
	if err := checkTrainingFlags(&a.flags); err != nil {
		return err
	}
	switch {
	case cmd.Flags().Changed("gnorm"):
		return fmt.Errorf("--gnorm: grad runs one step, with no ‖G‖ history to draw on (it uses none); leave --gnorm out")
	case len(a.cotangents) != 1:
		return fmt.Errorf("give exactly one --cotangent OUTPUT=FILE.npy")
	}
	if outName, _, ok := strings.Cut(a.cotangents[0], "="); !ok || outName == "" {
		return fmt.Errorf("--cotangent %q: want OUTPUT=FILE.npy", a.cotangents[0])
	}
	return nil
}

// compile loads the model at the inputs' shapes and compiles the
// vector-Jacobian product of output outName with cotangent cot.
func (a *gradArgs) compile(model string, feeds map[string]*ir.Tensor, outName string, cot *ir.Tensor) (*ir.Graph, *passes.Training, error) {
	g, err := loadFed(model, feeds)
	if err != nil {
		return nil, nil, err
	}
	if err := firstError(checkCotangent(g, a.cotangents[0], outName, cot), checkLoRABound(g, a.flags.lora)); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", model, err)
	}
	spec := a.flags.spec()
	spec.Loss = passes.LossSpec{Kind: passes.LossVJP, Output: outName}
	spec.Sampling.GNorm = "none" // one step: no ‖G‖ history to draw on
	compiled, err := passes.Compile(g, spec)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", model, err)
	}
	if err := firstError(checkLoRAAdapters(compiled, a.flags.lora), checkLayersMatched(&a.flags, compiled)); err != nil {
		return nil, nil, fmt.Errorf("%s: %v", model, err)
	}
	return g, compiled, nil
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
