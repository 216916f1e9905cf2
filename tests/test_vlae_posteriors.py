"""companion.vlae.posteriors: densities, sampling and Householder flows against closed forms."""

import math

import torch
from torch.distributions import MultivariateNormal

from companion.vlae.posteriors import (
    DiagonalGaussian,
    FullCovarianceGaussian,
    HouseholderFlow,
    householder_reflect,
)


def random_precision(batch, dim, generator):
    factor = torch.randn(batch, dim, dim, dtype=torch.float64, generator=generator)
    return factor @ factor.mT + torch.eye(dim, dtype=torch.float64)


def test_full_covariance_density_matches_torch():
    generator = torch.Generator().manual_seed(0)
    precision = random_precision(3, 4, generator)
    mean = torch.randn(3, 4, dtype=torch.float64, generator=generator)
    posterior = FullCovarianceGaussian(mean, torch.linalg.cholesky(precision))
    z = torch.randn(5, 3, 4, dtype=torch.float64, generator=generator)
    expected = MultivariateNormal(mean, precision_matrix=precision).log_prob(z)
    torch.testing.assert_close(posterior.log_prob(z), expected)
    torch.testing.assert_close(posterior.covariance(), torch.linalg.inv(precision))


def test_full_covariance_samples_have_the_inverse_precision_as_covariance():
    torch.manual_seed(1)
    generator = torch.Generator().manual_seed(1)
    precision = random_precision(2, 3, generator)
    mean = torch.randn(2, 3, dtype=torch.float64, generator=generator)
    posterior = FullCovarianceGaussian(mean, torch.linalg.cholesky(precision))
    z, log_q = posterior.rsample(200_000)
    torch.testing.assert_close(log_q, posterior.log_prob(z))
    centred = z - z.mean(0)
    covariance = torch.einsum("kbi,kbj->bij", centred, centred) / len(z)
    torch.testing.assert_close(covariance, torch.linalg.inv(precision), atol=0.01, rtol=0.02)
    torch.testing.assert_close(z.mean(0), mean, atol=0.01, rtol=0.0)


def test_diagonal_gaussian_density():
    mean, log_var = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, -0.4]])
    z = torch.tensor([[[1.0, 0.0]]])
    expected = torch.distributions.Normal(mean, (0.5 * log_var).exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(DiagonalGaussian(mean, log_var).log_prob(z), expected)


def flow_matrix(flow, dim):
    """The matrix M of z ↦ H_T ⋯ H_1 z for each example, B×d×d."""
    return flow.transform(torch.eye(dim, dtype=torch.float64).unsqueeze(-2)).movedim(0, -1)


def test_householder_flow_is_orthogonal_and_volume_preserving():
    generator = torch.Generator().manual_seed(2)
    vectors = [torch.randn(3, 5, dtype=torch.float64, generator=generator) for _ in range(4)]
    base = DiagonalGaussian(torch.zeros(3, 5, dtype=torch.float64), torch.zeros(3, 5, dtype=torch.float64))
    flow = HouseholderFlow(base, vectors)
    matrix = flow_matrix(flow, 5)
    torch.testing.assert_close(matrix.mT @ matrix, torch.eye(5, dtype=torch.float64).expand(3, 5, 5))
    for index in range(3):
        single = HouseholderFlow(base, [v[index] for v in vectors])
        jacobian = torch.autograd.functional.jacobian(single.transform, torch.randn(5, dtype=torch.float64))
        torch.testing.assert_close(jacobian, matrix[index])
        torch.testing.assert_close(torch.linalg.det(jacobian).abs(), torch.tensor(1.0, dtype=torch.float64))


def test_single_reflection_is_an_involution_that_flips_its_vector():
    vector = torch.tensor([[1.0, 2.0, -1.0]])
    torch.testing.assert_close(householder_reflect(vector, vector), -vector)
    z = torch.tensor([[0.3, -0.7, 2.0]])
    torch.testing.assert_close(householder_reflect(householder_reflect(z, vector), vector), z)


def test_householder_density_is_the_base_density_of_the_preimage():
    torch.manual_seed(3)
    generator = torch.Generator().manual_seed(3)
    vectors = [torch.randn(2, 3, dtype=torch.float64, generator=generator) for _ in range(3)]
    base = DiagonalGaussian(torch.randn(2, 3, dtype=torch.float64, generator=generator),
                            torch.randn(2, 3, dtype=torch.float64, generator=generator))
    flow = HouseholderFlow(base, vectors)
    z, log_q = flow.rsample(7)
    torch.testing.assert_close(flow.log_prob(z), log_q)
    matrix = flow_matrix(flow, 3)
    expected = MultivariateNormal(flow.mean, matrix @ base.covariance() @ matrix.mT).log_prob(z)
    torch.testing.assert_close(log_q, expected)
    torch.testing.assert_close(flow.covariance(), matrix @ base.covariance() @ matrix.mT)


def iaf_flow(batch, dim, steps, seed, gate_bias=None, scale=3.0):
    """An IAF posterior with random MADEs (float64) over a random diagonal base."""
    from companion.vlae.networks import MADE
    from companion.vlae.posteriors import InverseAutoregressiveFlow

    torch.manual_seed(seed)
    mades = [MADE(dim, 6, 12).double() for _ in range(steps)]
    for made in mades:
        with torch.no_grad():
            made.shift.weight.mul_(scale)  # far from the identity: every test sees a real flow
            made.gate.weight.mul_(scale)
            if gate_bias is not None:
                made.gate.bias.fill_(gate_bias)
    base = DiagonalGaussian(torch.randn(batch, dim, dtype=torch.float64), torch.randn(batch, dim, dtype=torch.float64))
    return InverseAutoregressiveFlow(base, mades, torch.randn(batch, 6, dtype=torch.float64))


def test_made_outputs_depend_only_on_earlier_dimensions():
    from companion.vlae.networks import MADE

    torch.manual_seed(4)
    made = MADE(5, 3, 20).double()
    z, context = torch.randn(5, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    for output in (0, 1):
        jacobian = torch.autograd.functional.jacobian(lambda v: made(v, context)[output], z)
        assert (jacobian.triu() == 0).all()  # strictly lower triangular
        assert (jacobian.tril(-1).abs() > 0).any()
        by_context = torch.autograd.functional.jacobian(lambda h: made(z, h)[output], context)
        assert (by_context[0] == 0).all() and (by_context[1:].abs().sum(-1) > 0).all()


def test_iaf_log_det_is_the_log_determinant_of_the_flows_jacobian():
    flow = iaf_flow(3, 4, steps=3, seed=5)
    z0 = torch.randn(3, 4, dtype=torch.float64)
    _, log_det = flow.transform(z0)
    for index in range(3):
        def single(v, index=index):
            batch = z0.clone()
            batch[index] = v
            return flow.transform(batch)[0][index]
        jacobian = torch.autograd.functional.jacobian(single, z0[index])
        torch.testing.assert_close(torch.linalg.slogdet(jacobian)[1], log_det[index])


def test_iaf_inverse_recovers_the_base_sample_and_its_density():
    flow = iaf_flow(2, 5, steps=4, seed=6)
    torch.manual_seed(6)
    z, log_q = flow.rsample(7)
    origin, _ = flow.invert(z)
    torch.testing.assert_close(flow.transform(origin)[0], z)
    torch.testing.assert_close(flow.log_prob(z), log_q)


def test_iaf_density_integrates_to_one():
    flow = iaf_flow(1, 2, steps=2, seed=7, scale=1.0)
    axis = torch.linspace(-12.0, 12.0, 601, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 1, 2)
    mass = flow.log_prob(grid).exp().sum() * (axis[1] - axis[0]) ** 2
    torch.testing.assert_close(mass, torch.tensor(1.0, dtype=torch.float64), atol=2e-3, rtol=0.0)


def test_an_iaf_with_open_gates_is_its_base():
    flow = iaf_flow(2, 3, steps=2, seed=8, gate_bias=40.0)
    z = torch.randn(5, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(flow.log_prob(z), flow.base.log_prob(z))
    torch.manual_seed(8)
    torch.testing.assert_close(flow.covariance(200_000), flow.base.covariance(), atol=0.02, rtol=0.03)


def test_iaf_fits_a_correlated_gaussian_that_no_diagonal_q_can():
    """KL(q‖N(0, Σ)) with correlation 0.9: a diagonal Gaussian's best is ½ log(1/0.19) ≈ 0.83 nats,
    two IAF steps (each an affine autoregressive map at best) can reach 0."""
    from companion.vlae.networks import MADE
    from companion.vlae.posteriors import InverseAutoregressiveFlow

    torch.manual_seed(9)
    target = MultivariateNormal(torch.zeros(2), torch.tensor([[1.0, 0.9], [0.9, 1.0]]))
    mades = torch.nn.ModuleList(MADE(2, 1, 16) for _ in range(2))
    base = torch.nn.Parameter(torch.zeros(2, 2))
    optimizer = torch.optim.Adam([*mades.parameters(), base], lr=0.03)
    context = torch.zeros(1, 1)

    def kl(samples):
        z, log_q = InverseAutoregressiveFlow(DiagonalGaussian(base[:1], base[1:]), mades, context).rsample(samples)
        return (log_q - target.log_prob(z)).mean()

    for _ in range(300):
        optimizer.zero_grad()
        kl(128).backward()
        optimizer.step()
    with torch.no_grad():
        assert float(kl(20_000)) < 0.1 < 0.5 * math.log(1 / 0.19)
