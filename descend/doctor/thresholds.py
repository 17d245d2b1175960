"""The doctor's thresholds: every number a rule compares against, with the reason for its value.

They were set on the pathology zoo (tests/test_zoo.py) and then on the development half of the doctor
benchmark (bench/doctor/, `python -m bench.doctor --half dev`); healthy runs, which must trigger nothing, are
the other half of every check.
"""

SMOOTH = 5                # steps in the rolling windows that hide single noisy batches
DIVERGE_RISE = 2.0        # loss above 2x its best so far ...
DIVERGE_ABOVE_START = 1.5 # ... and 1.5x where it started: a healthy run never climbs back above its start
GRAD_BLOWUP = 10.0        # grad norm 10x its early median just before a NaN: the NaN is the divergence's end
WEIGHT_BLOWUP = 10.0      # weights 10x their initial norm when the NaN appeared: steps were far too large
LOW_LR_MIN_STEPS = 25     # judge "barely moves" only after this many steps
LOW_LR_MOVE = 0.05        # mean loss of the last fifth of the steps within 5 % of the first fifth's ...
LOW_LR_RATIO = 1e-5       # ... and no layer's update/weight ratio reached 1e-5 (healthy: 1e-4 .. 1e-2)
VANISH_RATIO = 1e-3       # first layers' gradient RMS three orders of magnitude below the last layers'
EXPLODE_RATIO = 1e3       # ... or three orders above
LAYER_SAMPLES = 2         # sampled steps a per-layer rule needs before it may fire
SPIKE = 100.0             # a gradient norm 100x the median of the steps before it
SPIKE_HISTORY = 10        # steps of history a spike is measured against
SPIKE_COUNT = 2           # spikes needed: one can be an unlucky batch ...
SPIKE_STRONG = 1000.0     # ... unless it is 1000x the steps before (outliers in the data, an overflow)
DEAD_FRACTION = 0.5       # half a ReLU layer's units never active over the window
SATURATED_FRACTION = 0.5  # half of a tanh/sigmoid layer's outputs within 0.01 of its bounds
ACT_SAMPLES = 2           # activation samples (after the dead-unit window filled) a rule needs
OVERFIT_RISE = 0.2        # validation loss 20 % above its best (10 %: a 400-sample val set's noise) ...
OVERFIT_PATIENCE = 3      # ... for the last 3 epochs (2 lets a 1,000-sample val set's noise through) ...
OVERFIT_TRAIN_DROP = 0.1  # ... while the training loss fell by 10 % or more since the best epoch
PLATEAU_MIN_STEPS = 120   # a plateau needs a run this long ...
PLATEAU_SPAN = 0.4        # ... flat over its last 40 % (at least PLATEAU_MIN_STEPS / 2 steps)
PLATEAU_GAIN = 0.03       # "flat": the mean loss improved by less than 3 % over that span ...
PLATEAU_RATIO = 0.02      # ... while some layer's weights still move 2 % per step: the steps are too large to
                          # settle (healthy: 1e-3; Karpathy's rule of thumb), the loss bounces on a noise floor
OSC_SWING = 0.3           # a swing: the epoch loss rises 30 % above its last low and falls as far back
OSC_VAL_SWING = 0.5       # the validation loss must swing 50 %: a few hundred samples swing it 30 % by chance
OSC_PEAKS = 2             # swings needed: one can be an unlucky epoch (healthy epochs move a few %)
OSC_MIN_EPOCHS = 5        # epochs needed to judge
UNDERFIT_MIN_EPOCHS = 4   # epochs before underfitting can be judged (at the end of training)
UNDERFIT_LEVEL = 0.5      # training loss still above half its starting value ...
UNDERFIT_RATE = 0.02      # ... improving less than 2 % per epoch over the last 3 epochs (still learning: more) ...
UNDERFIT_GAP = 0.2        # ... and validation within 20 % of training: not a generalisation problem

SILENT = 0.01             # a ReLU layer with at most 1 % of its outputs above 0 on a sampled batch: all dead
PLATEAU_LEARNT = 0.05     # a plateau comes after learning: its level is 5 % or more below the start
UNDERFIT_AT = 0.5         # underfitting is judged from half of the planned epochs on (and at the end)
WEIGHT_COLLAPSE = 0.5     # weights below half their largest norm: decayed, so a large update/weight ratio
                          # says the weights are small (underfitting by regularisation), not the steps large
