"""PayerMaxClient's own numbers (issue 12): unusable ones are refused when it is built, as typed
errors naming the argument, never as a builtin exception later."""

from __future__ import annotations

import math

import pytest

from payermax_async import ConfigurationError, PayerMaxClient, PayerMaxConfig, ValidationError


@pytest.mark.parametrize("timeout", [math.nan, math.inf, 0, -1, 10**400, 86_401])
def test_an_unusable_default_timeout_is_refused(config: PayerMaxConfig, timeout: float) -> None:
    """The client's default timeout must be more than 0 and at most a day."""
    with pytest.raises(ValidationError) as info:
        PayerMaxClient(config, timeout=timeout)
    assert info.value.field == "timeout"


@pytest.mark.parametrize("window", [math.nan, math.inf, -1, 10**400, 31 * 86_400])
def test_an_unusable_absence_window_is_refused(config: PayerMaxConfig, window: float) -> None:
    """absence_window must be 0 to 30 days (10**400 was an OverflowError)."""
    with pytest.raises(ConfigurationError, match="absence_window"):
        PayerMaxClient(config, absence_window=window)
