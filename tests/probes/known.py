"""Probes that still fail, each with the reason; test_probes.py marks them xfail(strict=True)."""

KNOWN: dict[str, str] = {
    'save.optimizer_state_dict': "param groups carry descend's own 'l1' option (and SGD's carry 'capturable'), so their keys differ",
    'save.weights_only_false_state_dict': 'by design: descend.load(weights_only=False) refuses (never unpickles; files are safetensors + JSON)',
    'save.whole_model_save_load': 'by design: descend.save(module) refuses whole-module pickling; save the state_dict',
}
