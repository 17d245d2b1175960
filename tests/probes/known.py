"""Probes that still fail, each with the reason; test_probes.py marks them xfail(strict=True)."""

KNOWN: dict[str, str] = {
    'optim.state_dict_momentum_buffer': "optimizer state values are NumPy arrays; torch keeps tensors (state['momentum_buffer'])",
    'optim.state_dict_structure': "optimizer state['step'] is a float; torch a 0-d tensor",
    'optim.state_per_param': 'optimizer state values (exp_avg, exp_avg_sq) are NumPy arrays; torch keeps tensors',
    'save.optimizer_state_dict': 'optimizer state dict holds NumPy arrays, so it round-trips as arrays; torch tensors',
    'save.parameter_saved': 'a saved Parameter loads as a Tensor; torch keeps Parameter',
    'save.weights_only_false_state_dict': 'by design: descend.load(weights_only=False) refuses (never unpickles; files are safetensors + JSON)',
    'save.whole_model_save_load': 'by design: descend.save(module) refuses whole-module pickling; save the state_dict',
}
