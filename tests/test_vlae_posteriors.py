"""companion.vlae.posteriors: densities, sampling and Householder flows against closed forms."""

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
