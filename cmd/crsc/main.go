// Command crsc compiles ONNX exports of BERT/T5-family models into
// memory-efficient training graphs (WTA-CRS) and runs them.
//
// This file only wires the cobra commands; each command lives in its own
// file and calls into the packages that do the work.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI and turns every failure, even an unexpected panic,
// into one line on stderr and a non-zero exit status.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "crsc: internal error: %v\n", r)
			code = 2
		}
	}()
	root := rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "crsc: %s\n", oneLine(err.Error()))
		return 1
	}
	return 0
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "crsc",
		Short:         "Memory-efficient fine-tuning compiler for ONNX transformer models (WTA-CRS)",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(inspectCommand(), runCommand(), gradCommand(), compileCommand(), benchCommand(), planCommand())
	root.AddCommand(trainCommand(), evalCommand(), studyCommand(), selftestCommand())
	return root
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
