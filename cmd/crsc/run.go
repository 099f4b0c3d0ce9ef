package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"crsc/compiler/ir"
	"crsc/internal/npy"
	"crsc/runtime/device"
	"crsc/runtime/engine"
)

func runCommand() *cobra.Command {
	var r npyRun
	var threads int
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
			dev, feeds, err := r.start(cmd)
			if err != nil {
				return err
			}
			defer dev.Close()
			g, err := loadFed(args[0], feeds)
			if err != nil {
				return err
			}
			results, err := runOnce(dev, threads, g, feeds, r.seed)
			if err != nil {
				return fmt.Errorf("%s: %v", args[0], err)
			}
			for _, name := range slices.Sorted(maps.Keys(results)) {
				path, err := r.write(name, results[name])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %v%v -> %s\n", name, results[name].DType, results[name].Shape, path)
			}
			return nil
		},
	}
	r.register(cmd, "folder for the output .npy files", "seed for training-mode Dropout masks")
	cmd.Flags().IntVar(&threads, "threads", 0, "CPU threads (0: all cores)")
	return cmd
}

// npyRun are the flags and steps of the commands that run a model once on
// .npy inputs and write .npy files (run, grad).
type npyRun struct {
	inputs      []string
	out, device string
	seed        uint64
}

// register adds --input, --out, --device and --seed, with the command's
// own words for --out and --seed.
func (r *npyRun) register(cmd *cobra.Command, outHelp, seedHelp string) {
	fl := cmd.Flags()
	fl.StringArrayVar(&r.inputs, "input", nil, "input NAME=FILE.npy (repeat for each input)")
	fl.StringVar(&r.out, "out", "", outHelp)
	fl.StringVar(&r.device, "device", "cpu", deviceHelp)
	fl.Uint64Var(&r.seed, "seed", 0, seedHelp)
}

// start checks --out, reads the --input arrays and opens --device, which
// the caller closes.
func (r *npyRun) start(cmd *cobra.Command) (*device.Device, map[string]*ir.Tensor, error) {
	if r.out == "" {
		return nil, nil, fmt.Errorf("--out DIR is required")
	}
	feeds, err := readInputs(r.inputs)
	if err != nil {
		return nil, nil, err
	}
	dev, err := openDevice(r.device, cmd.ErrOrStderr())
	if err != nil {
		return nil, nil, err
	}
	return dev, feeds, nil
}

// write writes t as --out's <name>.npy, every character of name outside
// [A-Za-z0-9._-] made '_' (npy.SafeName), and returns its path.
func (r *npyRun) write(name string, t *ir.Tensor) (string, error) {
	if err := os.MkdirAll(r.out, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(r.out, npy.SafeName(name)+".npy")
	return path, npy.WriteFile(path, t)
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
