package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"crsc/runtime/cuda"
	"crsc/runtime/device"
	"crsc/tools/selftest"
)

func selftestCommand() *cobra.Command {
	var dev string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "selftest --device cuda|emu",
		Short: "Check a GPU against the CPU runtime: driver, kernel compilation, every kernel, GEMM, a training step",
		Long: `Checks the CUDA backend on a device, one line per check, ending with
"N passed, N failed": the driver and device, NVRTC compilation of every
kernel file, each kernel and cuBLAS GEMM against the CPU backend on random
inputs, and one training step of a tiny BERT and a tiny T5 (WTA-CRS,
Dropout; same seed on both backends). --device emu runs the same checks on
the CPU emulator of a GPU. Exits non-zero when a check fails or no GPU is
found.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if dev == "cpu" || dev == "auto" {
				return fmt.Errorf("--device %s: selftest checks a GPU against the CPU; use --device cuda (or emu)", dev)
			}
			d, err := device.Open(dev)
			if err != nil {
				fmt.Fprintf(w, "FAIL device: %v\n0 passed, 1 failed\n", err)
				return noGPU(err)
			}
			defer d.Close()
			passed, failed := selftest.Run(d.GPU, func(r selftest.Result) {
				switch {
				case r.Err != nil:
					fmt.Fprintf(w, "FAIL %s: %v\n", r.Name, r.Err)
				case verbose || r.Detail != "":
					fmt.Fprintf(w, "ok   %s (%.0f ms) %s\n", r.Name, r.Took.Seconds()*1000, r.Detail)
				default:
					fmt.Fprintf(w, "ok   %s\n", r.Name)
				}
			})
			fmt.Fprintf(w, "%d passed, %d failed\n", passed, failed)
			if failed > 0 {
				return fmt.Errorf("selftest: %d of %d checks failed", failed, passed+failed)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dev, "device", "cuda", "cuda or emu (the CPU emulator of a GPU)")
	cmd.Flags().BoolVar(&verbose, "verbose", false, "show each check's time")
	return cmd
}

// noGPU says why there is nothing to check, in one line: for a missing
// driver or a driver without a GPU, where it looked.
func noGPU(err error) error {
	var nf *cuda.NotFoundError
	var nd *cuda.NoDeviceError
	switch {
	case errors.As(err, &nf) && nf.Library == "driver":
		msg := fmt.Sprintf("selftest: no GPU found; searched %s for %s (%s, or set CRSC_CUDA_LIBS)", nf.Searched, strings.Join(nf.Names, ", "), nf.Hint)
		if nf.Broken != "" {
			msg += "; found but failed to load: " + nf.Broken
		}
		return errors.New(msg)
	case errors.As(err, &nd):
		return fmt.Errorf("selftest: no GPU found; searched with the driver %s: %s", nd.Driver, nd.Reason)
	}
	return fmt.Errorf("selftest: %v", err)
}
