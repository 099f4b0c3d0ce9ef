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
	"runtime/debug"
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
		Version:       version(),
	}
	root.SetVersionTemplate("crsc {{.Version}}\n")
	root.AddCommand(inspectCommand(), runCommand(), gradCommand(), compileCommand(), benchCommand(), planCommand())
	root.AddCommand(trainCommand(), evalCommand(), studyCommand(), selftestCommand())
	return root
}

// version describes this binary from its build information: the module
// version ("(devel)" for a build from a checkout), the VCS revision, its
// time and whether the tree had uncommitted changes, when the build
// recorded them (go build in a git checkout does), and the Go version.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(no build information)"
	}
	return formatVersion(info)
}

// formatVersion is version's text for one build's information.
// (GOFLAGS=-buildvcs=false, as this project's machines set it, leaves the
// vcs settings out.)
func formatVersion(info *debug.BuildInfo) string {
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		v += ", revision " + rev
		if t := settings["vcs.time"]; t != "" {
			v += " (" + t + ")"
		}
		if settings["vcs.modified"] == "true" {
			v += ", modified"
		}
	}
	return v + ", " + info.GoVersion
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
