"""descend.schema: the one config engine under the train, gan and diffusion tables (checks, did-you-mean, flags
and the defaults their --help shows)."""

from __future__ import annotations

import pytest

from descend import schema
from descend.cli import parser
from descend.diffusion import config as diff_config
from descend.errors import UsageError
from descend.gan import config as gan_config
from descend.train import config as train_config

TABLES = {"train": train_config.SCHEMA, "gan": gan_config.SCHEMA, "diffusion": diff_config.SCHEMA}


@pytest.mark.parametrize("task", TABLES)
def test_every_key_has_a_flag_on_its_command(task):
    p = parser()
    sub = next(a for a in p._actions if a.dest == "command").choices[task]
    options = {o for a in sub._actions for o in a.option_strings}
    for section, keys in TABLES[task].items():
        for key, spec in keys.items():
            assert schema.Key(*spec).flag in options, f"{task}: {schema.dotted(section, key)} has no flag"


def _help(task: str) -> str:
    p = parser()
    return " ".join(next(a for a in p._actions if a.dest == "command").choices[task].format_help().split())


def test_help_shows_the_tables_defaults():
    text = _help("train")
    assert "--lr LR learning rate (default 0.01)" in text
    assert "--epochs EPOCHS passes over the training data (default 60)" in text
    gan = _help("gan")  # where the data decides, each kind of data's default
    assert "--steps STEPS generator updates (default 5000 on 2-D data, 3000 on images)" in gan
    assert "--ema-decay EMA_DECAY EMA of the weights (default 0.995)" in _help("diffusion")


def test_flags_reach_the_config_and_bool_keys_have_a_negation():
    args = parser().parse_args(["train", "--no-shuffle", "--plateau-patience", "4", "--lr", "0.5"])
    cfg = train_config.load(None, train_config.given(args))
    assert cfg["data"]["shuffle"] is False and cfg["schedule"]["patience"] == 4 and cfg["optim"]["lr"] == 0.5
    assert train_config.given(parser().parse_args(["train"])) == {}  # a flag not given leaves the file's value


@pytest.mark.parametrize("raw, message", [
    ({"optim": {"learning_rate": 0.1}}, "unknown key 'optim.learning_rate' (did you mean 'optim.lr'?)"),
    ({"train": {"momentum": 0.5}}, "unknown key 'train.momentum' (did you mean 'optim.momentum'?)"),
    ({"shedule": {"name": "step"}}, "unknown section [shedule] (did you mean [schedule]?)"),
    ({"optim": {"name": "adamx"}}, "key 'optim.name': must be one of adam, adamw, sgd, rmsprop, adagrad "
                                   "(did you mean 'adam'?), got 'adamx'"),
    ({"data": {"batch_size": 2**21}}, "key 'data.batch_size': must be at most 1048576, got 2097152"),
    ({"train": {"keep": True}}, "key 'train.keep': expected an integer, got True"),
    ({"data": {"shuffle": 1}}, "key 'data.shuffle': expected true or false, got 1"),
])
def test_bad_keys_and_values_are_one_line_naming_the_file(raw, message):
    with pytest.raises(UsageError) as e:
        train_config.validate(raw, "c.toml")
    assert str(e.value) == f"c.toml: {message}"


def test_the_gan_and_diffusion_tables_resolve_per_data():
    assert gan_config.from_flags({})["train"]["steps"] == 5000
    assert gan_config.from_flags({"--data": "mnist1d"})["train"]["steps"] == 3000
    cfg = diff_config.from_flags({"--data": "mnist1d", "--steps": 20})
    assert cfg["train"]["eval_every"] == cfg["train"]["sample_every"] == 20  # clamped to a short run
    with pytest.raises(UsageError, match="--data: must be one of .* \\(did you mean 'ring8'\\?\\), got 'rnig8'"):
        diff_config.from_flags({"--data": "rnig8"})
