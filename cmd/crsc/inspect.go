package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"crsc/compiler/ir"
	"crsc/compiler/passes"
)

func inspectCommand() *cobra.Command {
	var shapeSpecs []string
	var format, after string
	var noGraph bool
	var flags trainingFlags
	cmd := &cobra.Command{
		Use:   "inspect MODEL [--shape NAME=DIMS ...] [--format text|json|dot] [--after PASS]",
		Short: "Show a model's inputs, outputs, parameters, op histogram and graph",
		Long: `Shows MODEL's inputs, outputs, parameters, op histogram and its graph after
the load pipeline (` + passes.PassNames(passes.Load) + `).

--after PASS shows the graph after any pass of the load pipeline, of the
training pipeline (` + passes.PassNames(passes.TrainingPipeline) + `), or of
the lowering the engine applies before planning (` + passes.PassNames(passes.Lowering) + `),
compiled with the training flags (WTA-CRS at keep 0.3 by default, as train
and compile; the loss is the model's "loss" output, else cross-entropy on
its logits, unless --loss says).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			shapes, err := shapeFlags(shapeSpecs)
			if err != nil {
				return err
			}
			if err := checkTrainingFlags(&flags); err != nil {
				return err
			}
			g, err := inspectGraph(args[0], shapes, after, &flags)
			if err != nil {
				return err
			}
			return printInspection(cmd.OutOrStdout(), args[0], g, format, after, noGraph)
		},
	}
	cmd.Flags().StringArrayVar(&shapeSpecs, "shape", nil, "bind an input's shape, e.g. input_ids=8x128 (folds shape subgraphs)")
	cmd.Flags().StringVar(&format, "format", "text", "text, json or dot")
	cmd.Flags().BoolVar(&noGraph, "no-graph", false, "summary only")
	cmd.Flags().StringVar(&after, "after", "", "show the graph after this pass of the load or training pipeline")
	flags.register(cmd, true)
	flags.sampleByDefault()
	return cmd
}

// inspectGraph is the graph inspect shows: after the load pipeline, or
// after the pass --after names (its last run, for a pass that runs twice).
func inspectGraph(path string, shapes map[string]ir.Shape, after string, flags *trainingFlags) (*ir.Graph, error) {
	inLoad, inLowering := hasPass(passes.Load, after), hasPass(passes.Lowering, after)
	inTraining := hasPass(passes.TrainingPipeline, after) || inLowering
	if after != "" && !inLoad && !inTraining {
		return nil, fmt.Errorf("--after %q: no such pass (load: %s; training: %s; lowering: %s)", after,
			passes.PassNames(passes.Load), passes.PassNames(passes.TrainingPipeline), passes.PassNames(passes.Lowering))
	}
	var captured *ir.Graph
	capture := func(pass string, g *ir.Graph) {
		if pass == after {
			captured = g.Clone()
		}
	}
	g, err := loadModel(path, shapes, capture)
	if err != nil || !inTraining {
		if captured != nil {
			return captured, err
		}
		return g, err
	}
	spec := flags.spec()
	if spec.Loss.Kind == "" {
		if spec.Loss, err = passes.DefaultLoss(g); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	}
	if _, err := passes.CompileWith(g, spec, capture); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if inLowering { // as the engine lowers a bound graph for the CPU
		if err := passes.Run(g, passes.LoweringFor(true), &passes.Config{After: capture}); err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	}
	return captured, nil
}

func hasPass(pipeline []passes.Pass, name string) bool {
	for _, p := range pipeline {
		if p.Name == name {
			return true
		}
	}
	return false
}

// printInspection writes the summary and the graph in the chosen format.
func printInspection(w io.Writer, path string, g *ir.Graph, format, after string, noGraph bool) error {
	s := summarize(g)
	switch format {
	case "text":
		printSummary(w, path, s)
		if !noGraph {
			if after != "" {
				fmt.Fprintf(w, "\ngraph after %s:\n", after)
			} else {
				fmt.Fprintln(w, "\ngraph:")
			}
			ir.Print(w, g)
		}
	case "json":
		if !noGraph {
			s.Graph = strings.Split(strings.TrimRight(g.String(), "\n"), "\n")
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	case "dot":
		printDot(w, g)
	default:
		return fmt.Errorf("--format %q: want text, json or dot", format)
	}
	return nil
}

type valueInfo struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape string `json:"shape"`
}

type summary struct {
	Opsets      map[string]int64 `json:"opsets"`
	Inputs      []valueInfo      `json:"inputs"`
	Outputs     []valueInfo      `json:"outputs"`
	Params      int64            `json:"parameters"`
	ParamBytes  int64            `json:"parameter_bytes"`
	ParamCount  int              `json:"parameter_tensors"`
	ConstBytes  int64            `json:"constant_bytes"`
	Nodes       int              `json:"nodes"`
	OpHistogram map[string]int   `json:"op_histogram"`
	Graph       []string         `json:"graph,omitempty"`
}

func info(v *ir.Value) valueInfo {
	shape := "unknown"
	if v.HasShape {
		shape = v.Shape.String()
	}
	return valueInfo{Name: v.Name, DType: v.DType.String(), Shape: shape}
}

// summarize counts parameters as the float initializers with more than one
// element (weights, biases, norms); scalar floats and integer tensors are
// constants of the graph, not things a fine-tune would train.
func summarize(g *ir.Graph) summary {
	s := summary{Opsets: map[string]int64{}, OpHistogram: map[string]int{}, Nodes: len(g.Nodes)}
	for d, v := range g.Opsets {
		if d == "" {
			d = "ai.onnx"
		}
		s.Opsets[d] = v
	}
	for _, v := range g.Inputs {
		s.Inputs = append(s.Inputs, info(v))
	}
	for _, v := range g.Outputs {
		s.Outputs = append(s.Outputs, info(v))
	}
	for _, v := range g.Inits {
		if v.Init.DType.IsFloat() && v.Init.Len() > 1 {
			s.Params += int64(v.Init.Len())
			s.ParamBytes += v.Init.Bytes()
			s.ParamCount++
		} else {
			s.ConstBytes += v.Init.Bytes()
		}
	}
	for _, n := range g.Nodes {
		s.OpHistogram[n.Key()]++
	}
	return s
}

func printSummary(w io.Writer, path string, s summary) {
	fmt.Fprintf(w, "model:      %s\n", path)
	var opsets []string
	for d, v := range s.Opsets {
		opsets = append(opsets, fmt.Sprintf("%s %d", d, v))
	}
	sort.Strings(opsets)
	fmt.Fprintf(w, "opsets:     %s\n", strings.Join(opsets, ", "))
	fmt.Fprintln(w, "inputs:")
	for _, v := range s.Inputs {
		fmt.Fprintf(w, "  %-28s %s%s\n", v.Name, v.DType, v.Shape)
	}
	fmt.Fprintln(w, "outputs:")
	for _, v := range s.Outputs {
		fmt.Fprintf(w, "  %-28s %s%s\n", v.Name, v.DType, v.Shape)
	}
	fmt.Fprintf(w, "parameters: %d in %d tensors (%s), constants %s\n", s.Params, s.ParamCount, humanBytes(s.ParamBytes), humanBytes(s.ConstBytes))
	type opCount struct {
		op string
		n  int
	}
	var ops []opCount
	for op, n := range s.OpHistogram {
		ops = append(ops, opCount{op, n})
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].n != ops[j].n {
			return ops[i].n > ops[j].n
		}
		return ops[i].op < ops[j].op
	})
	fmt.Fprintf(w, "ops:        %d nodes:", s.Nodes)
	for i, oc := range ops {
		if i%8 == 0 {
			fmt.Fprint(w, "\n ")
		}
		fmt.Fprintf(w, " %s %d", oc.op, oc.n)
	}
	fmt.Fprintln(w)
}

// printDot writes a Graphviz digraph: nodes are ops, edges are values.
func printDot(w io.Writer, g *ir.Graph) {
	fmt.Fprintf(w, "digraph %q {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n", g.Name)
	id := map[*ir.Node]string{}
	for i, n := range g.Nodes {
		id[n] = fmt.Sprintf("n%d", i)
		fmt.Fprintf(w, "  %s [label=%q];\n", id[n], n.Op+"\n"+n.Name)
	}
	for i, v := range g.Inputs {
		fmt.Fprintf(w, "  in%d [shape=ellipse, label=%q];\n", i, v.Name+"\n"+ir.TypeString(v))
	}
	inputID := map[*ir.Value]string{}
	for i, v := range g.Inputs {
		inputID[v] = fmt.Sprintf("in%d", i)
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			switch {
			case in == nil || in.IsConst():
			case in.Producer != nil:
				fmt.Fprintf(w, "  %s -> %s [label=%q];\n", id[in.Producer], id[n], ir.TypeString(in))
			default:
				fmt.Fprintf(w, "  %s -> %s;\n", inputID[in], id[n])
			}
		}
	}
	for i, v := range g.Outputs {
		fmt.Fprintf(w, "  out%d [shape=ellipse, label=%q];\n", i, v.Name+"\n"+ir.TypeString(v))
		if v.Producer != nil {
			fmt.Fprintf(w, "  %s -> out%d;\n", id[v.Producer], i)
		}
	}
	fmt.Fprintln(w, "}")
}

func humanBytes(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}
