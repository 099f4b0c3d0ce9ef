// Package train fine-tunes a BERT-family classifier or regressor on a
// GLUE-style task with crsc's compiled training graphs (exact or WTA-CRS
// sampled weight gradients, LoRA, BitFit).
//
// Run is the whole job: load the model and bind its shapes to
// batch×max-len, tokenize the data, compile the training graph, then loop
// over seeded shuffled epochs (AdamW with linear warmup and decay, global
// gradient-norm clipping, gradient accumulation), evaluate each epoch with
// the task's metric, and keep a run directory:
//
//	config.json          the resolved configuration
//	metrics.jsonl        one JSON object per logged step and per evaluation
//	curves.png           loss and metric curves
//	memory.txt           the compiler's per-layer sampling decisions and memory plan
//	checkpoint.safetensors  the last state (params, AdamW moments, step, data position, ‖G‖ estimates)
//	best.safetensors     the parameters with the best evaluation metric
//	model.onnx           the forward graph with the best parameters (LoRA merged)
//	.lock                who holds the directory (the lock is an flock on it)
//	.crsc-demo           only in the demo's directory
//
// Every file but metrics.jsonl (an append log) is written atomically, and
// Resume continues exactly: the data order and every random number derive
// from the seed and the step, so a resumed run ends with the same
// parameters, bit for bit, as one that never stopped, and with the same
// metrics.jsonl (cut back to the checkpoint's length, then continued). The
// checkpoint records the model's and the data's hashes and the options
// that change the arithmetic: Resume refuses a difference unless
// ResumeWithChanges.
package train
