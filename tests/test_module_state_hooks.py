"""Module.state_dict's layout versions (_metadata) and the state-dict hooks,
as PyTorch's; BatchNorm reads checkpoints from before num_batches_tracked."""
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_kr as tg
from tinygrad_kr import nn


def net(lib):
    return lib.nn.Sequential(lib.nn.Conv2d(1, 2, 3), lib.nn.BatchNorm2d(2), lib.nn.ReLU(),
                             lib.nn.Flatten(), lib.nn.Linear(8, 3))


def test_metadata_records_each_modules_version():
    sd = net(tg).state_dict()
    assert sd._metadata == OrderedDict([("", {"version": 1}), ("0", {"version": 1}),
                                        ("1", {"version": 2}), ("2", {"version": 1}),
                                        ("3", {"version": 1}), ("4", {"version": 1})])


def test_metadata_equals_pytorchs():
    torch = pytest.importorskip("torch")
    assert dict(net(tg).state_dict()._metadata) == dict(net(torch).state_dict()._metadata)


def old_batchnorm_checkpoint(source, version):
    """source's state dict as written before num_batches_tracked existed."""
    sd = OrderedDict((k, v) for k, v in source.state_dict().items()
                     if not k.endswith("num_batches_tracked"))
    sd._metadata = OrderedDict([("1", {"version": version})] if version else [])
    return sd


@pytest.mark.parametrize("version", [None, 1])
def test_batchnorm_loads_a_checkpoint_without_num_batches_tracked(version):
    source, target = net(tg), net(tg)
    source.train()
    source(tg.randn(4, 1, 4, 4))
    target[1].num_batches_tracked.fill_(7)
    result = target.load_state_dict(old_batchnorm_checkpoint(source, version))
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(target[1].running_mean.numpy(), source[1].running_mean.numpy())
    assert target[1].num_batches_tracked.item() == 7        # its own count is kept


def test_a_current_checkpoint_missing_the_count_is_still_an_error():
    source, target = net(tg), net(tg)
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: '
                                           '"1.num_batches_tracked"'):
        target.load_state_dict(old_batchnorm_checkpoint(source, 2))


def test_torchvision_style_old_batchnorm_file_loads_like_pytorch(tmp_path):
    torch = pytest.importorskip("torch")
    theirs = net(torch)
    sd = old_batchnorm_checkpoint(theirs, 1)
    path = tmp_path / "old.pt"
    torch.save(sd, path)
    fresh = net(torch)
    fresh.load_state_dict(torch.load(path))              # PyTorch accepts it
    ours = net(tg)
    ours.load_state_dict(tg.load(path))                   # and so do we
    np.testing.assert_array_equal(ours[4].weight.detach().numpy(),
                                  theirs[4].weight.detach().numpy())


def test_load_pre_hook_renames_old_keys_and_sees_a_copy():
    old = nn.Linear(2, 2)
    renamed = OrderedDict((k.replace("weight", "w_old"), v) for k, v in old.state_dict().items())
    model = nn.Linear(2, 2)
    calls = []

    def rename(module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
        calls.append((type(module).__name__, prefix, strict))
        if prefix + "w_old" in state_dict:
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "w_old")

    handle = model.register_load_state_dict_pre_hook(rename)
    model.load_state_dict(renamed)
    assert calls == [("Linear", "", True)] and "w_old" in renamed   # the caller's dict untouched
    np.testing.assert_array_equal(model.weight.detach().numpy(), old.weight.detach().numpy())
    handle.remove()
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "w_old"'):
        model.load_state_dict(renamed)


def test_private_pre_hook_form_without_module():
    model = nn.Sequential(nn.Linear(2, 2))
    seen = []
    model[0]._register_load_state_dict_pre_hook(lambda sd, prefix, *rest: seen.append(prefix))
    model.load_state_dict(model.state_dict())
    assert seen == ["0."]


def test_load_post_hook_may_forgive_keys_and_must_return_none():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    partial = OrderedDict((k, v) for k, v in nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
                          .state_dict().items() if k.startswith("0."))

    def forgive(module, incompatible):
        incompatible.missing_keys.clear()

    handle = model.register_load_state_dict_post_hook(forgive)
    assert model.load_state_dict(partial).missing_keys == []
    handle.remove()
    with pytest.raises(RuntimeError, match="Missing key"):
        model.load_state_dict(partial)
    model.register_load_state_dict_post_hook(lambda module, keys: "oops")
    with pytest.raises(RuntimeError, match="post-hook must return None"):
        model.load_state_dict(model.state_dict())


def test_state_dict_hooks():
    model = nn.Sequential(nn.Linear(2, 2))
    seen = []
    model[0].register_state_dict_pre_hook(lambda m, prefix, keep_vars: seen.append(prefix))

    def drop_bias(module, state_dict, prefix, local_metadata):
        del state_dict[prefix + "bias"]

    model[0].register_state_dict_post_hook(drop_bias)
    assert list(model.state_dict()) == ["0.weight"] and seen == ["0."]
    model[0].register_state_dict_post_hook(lambda *args: {})
    with pytest.raises(RuntimeError, match="post-hook must return None"):
        model.state_dict()


def test_hooks_behave_as_pytorchs():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tg, torch):
        model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Linear(2, 1))
        log = []
        model[1].register_load_state_dict_pre_hook(
            lambda m, sd, prefix, meta, strict, missing, unexpected, errors:
            log.append(("pre", prefix, sorted(sd), meta)))
        model.register_load_state_dict_post_hook(
            lambda m, keys: log.append(("post", list(keys.missing_keys),
                                        list(keys.unexpected_keys))))
        sd = model.state_dict()
        sd["extra"] = sd["0.bias"]
        model.load_state_dict(sd, strict=False)
        results.append(log)
    assert results[0] == results[1]
