package main

import (
	"fmt"
	"os"
	"time"

	"crsc/train"
)

func main() {
	os.RemoveAll("/tmp/demorun")
	c, err := train.Demo("/work/main", "/tmp/demorun")
	if err != nil {
		panic(err)
	}
	c.Progress = os.Stdout
	if len(os.Args) > 1 {
		c.Spec.Sampling.Estimator = os.Args[1]
	}
	if len(os.Args) > 2 {
		fmt.Sscan(os.Args[2], &c.LR)
	}
	c.LogEvery = 100
	t0 := time.Now()
	r, err := train.Run(c)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println(r.Eval, r.Steps, time.Since(t0), r.TokensPerSec)
	mc, err := train.CompareMemory(c)
	fmt.Printf("%+v %v\n", mc, err)
}
