"""The divergence kernel against TRL's own generalized JSD (GKDTrainer.generalized_jsd_loss), the loss on-policy
distillation is defined by in TRL and in the recipe's release: value and student gradient, every beta including the
two ends TRL defines as the plain KLs, with temperature and masked tokens. TRL is a test reference only."""

import pytest
import torch

from sovereign_engine.kernels import linear_divergence

gkd = pytest.importorskip("trl.experimental.gkd.gkd_trainer", reason="TRL is not installed")


def make(n=23, hs=16, ht=12, v=97, seed=0):
    g = torch.Generator().manual_seed(seed)
    rand = lambda *shape, scale=1.0: torch.randn(*shape, generator=g, dtype=torch.float64) * scale
    labels = torch.randint(v, (n,), generator=g)
    labels[[2, 7, 8]] = -100
    return rand(n, hs), rand(v, hs, scale=hs**-0.5), rand(n, ht), rand(v, ht, scale=2 * ht**-0.5), labels


@pytest.mark.parametrize("beta", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_matches_trl_generalized_jsd(beta, temperature):
    hidden, weight, t_hidden, t_weight, labels = make()
    hidden.requires_grad_(True)
    trl_loss = gkd.GKDTrainer.generalized_jsd_loss(
        (hidden @ weight.t())[None], (t_hidden @ t_weight.t())[None], labels[None], beta=beta,
        temperature=temperature, reduction="batchmean",
    )
    (trl_grad,) = torch.autograd.grad(trl_loss, hidden)
    ours = linear_divergence(hidden, weight, t_hidden, t_weight, labels != -100, kind="jsd", beta=beta,
                             temperature=temperature, reduction="mean", chunk_size=5)
    (our_grad,) = torch.autograd.grad(ours, hidden)
    torch.testing.assert_close(ours, trl_loss, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(our_grad, trl_grad, rtol=1e-9, atol=1e-12)
