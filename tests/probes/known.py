"""Probes that still fail, each with the reason; test_probes.py marks them xfail(strict=True)."""

KNOWN: dict[str, str] = {
    'save.optimizer_state_dict': "param groups carry descend's own 'l1' option (and SGD's carry 'capturable'), so their keys differ",
    'save.weights_only_false_state_dict': 'by design: descend.load(weights_only=False) refuses (never unpickles; files are safetensors + JSON)',
    'save.whole_model_save_load': 'by design: descend.save(module) refuses whole-module pickling; save the state_dict',
    'scripts2_create.from_numpy_negative_stride_raises': 'descend accepts a negatively strided array in from_numpy (a view, as NumPy); PyTorch raises ValueError',
    'scripts2_create.tensor_of_1d_tensors_raises': 'tensor([t1, t2]) of 1-D tensors stacks them in descend; PyTorch raises ValueError',
    'scripts2_create.legacy_Tensor_sizes': 'the legacy sizes constructor Tensor(2, 3) is not supported (use descend.empty(2, 3))',
    'scripts2_create.rand_like_int_raises': "rand_like of an integer tensor raises descend's OpTypeError (a TypeError), not NotImplementedError",
    'scripts2_index.negative_step_raises': 'x[::-1] works in descend (a NumPy view, gradients included); PyTorch refuses negative steps',
    'scripts2_index.index_with_long_list_of_lists': 'a nested list index is read as NumPy reads it, not as a tuple of indices (a legacy PyTorch rule)',
    'scripts2_functional.interp_trilinear': 'trilinear (5-D) interpolation is not supported (no 3-D layers in descend)',
    'scripts2_functional.ce_int32_target': 'cross_entropy accepts int32 class targets; PyTorch requires int64',
    'scripts2_functional.l1_int_raises': 'l1_loss on integer tensors computes; PyTorch raises',
    'scripts2_functional.softmax_int_raises': 'softmax of an integer tensor computes in the default float; PyTorch raises NotImplementedError',
    'scripts2_optim.autocast_cpu_bf16': 'by design: autocast changes nothing in descend, so the output stays float32 (PyTorch: bfloat16)',
    'scripts2_optim.random_manual_seed_type': "the global generator's class is named _DefaultGenerator (a Generator subclass)",
}
