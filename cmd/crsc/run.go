package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"crsc/compiler/ir"
	"crsc/internal/npy"
	"crsc/runtime/device"
	"crsc/runtime/engine"
)

func runCommand() *cobra.Command {
	var inputs []string
	var out, device string
	var threads int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "run MODEL --input NAME=FILE.npy ... --out DIR",
		Short: "Run the forward pass and write each output as DIR/<output>.npy",
		Long: `Runs MODEL's forward pass on the given inputs and writes every graph output to
DIR/<name>.npy, where every character of the output name outside [A-Za-z0-9._-]
becomes '_'. Input shapes are bound from the given arrays, so shape subgraphs
fold away before the run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkInt("threads", threads, 0, noLimit); err != nil {
				return err
			}
			dev, err := openDevice(device, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer dev.Close()
			if out == "" {
				return fmt.Errorf("--out DIR is required")
			}
			feeds, err := readInputs(inputs)
			if err != nil {
				return err
			}
			g, err := loadFed(args[0], feeds)
			if err != nil {
				return err
			}
			results, err := runOnce(dev, threads, g, feeds, seed)
			if err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			names := make([]string, 0, len(results))
			for name := range results {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				path := filepath.Join(out, npy.SafeName(name)+".npy")
				if err := npy.WriteFile(path, results[name]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %v%v -> %s\n", name, results[name].DType, results[name].Shape, path)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&inputs, "input", nil, "input NAME=FILE.npy (repeat for each input)")
	cmd.Flags().StringVar(&out, "out", "", "folder for the output .npy files")
	cmd.Flags().StringVar(&device, "device", "cpu", deviceHelp)
	cmd.Flags().IntVar(&threads, "threads", 0, "CPU threads (0: all cores)")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed for training-mode Dropout masks")
	return cmd
}

func readInputs(specs []string) (map[string]*ir.Tensor, error) {
	feeds := map[string]*ir.Tensor{}
	for _, spec := range specs {
		name, path, ok := strings.Cut(spec, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("--input %q: want NAME=FILE.npy", spec)
		}
		if _, dup := feeds[name]; dup {
			return nil, fmt.Errorf("--input %s given twice", name)
		}
		t, err := npy.ReadFile(path)
		if err != nil {
			return nil, err
		}
		feeds[name] = t
	}
	return feeds, nil
}

// runOnce runs g once through the engine every command uses: its node
// outputs in one planned arena, on dev.
func runOnce(dev *device.Device, threads int, g *ir.Graph, feeds map[string]*ir.Tensor, seed uint64) (map[string]*ir.Tensor, error) {
	sess, err := engine.New(dev, threads)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	return sess.Run(g, feeds, seed)
}
