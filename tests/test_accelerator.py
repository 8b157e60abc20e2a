"""tl.accelerator answers as torch.accelerator does on a build with no accelerator."""

import tinygrad_lstm as tl


def test_accelerator_reports_none_and_the_device_idiom_picks_the_cpu():
    assert tl.accelerator.is_available() is False
    assert tl.accelerator.current_accelerator() is None
    assert tl.accelerator.current_accelerator(check_available=True) is None
    assert tl.accelerator.device_count() == 0
    # the idiom of the current PyTorch tutorials
    device = (tl.accelerator.current_accelerator().type if tl.accelerator.is_available()
              else "cpu")
    assert tl.zeros(2, device=device).device == tl.device("cpu")
