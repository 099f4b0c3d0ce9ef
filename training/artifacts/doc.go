// Package artifacts builds, writes and reads crsc's training artifacts, in
// the layout ONNX Runtime training users know:
//
//	training_model.onnx    forward + loss + <param>_grad outputs
//	eval_model.onnx        forward + loss, Dropout off
//	optimizer_model.onnx   one AdamW step (package optim)
//	checkpoint.safetensors parameters, AdamW moments and the step count
package artifacts
