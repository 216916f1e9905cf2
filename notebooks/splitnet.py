# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # SplitNet: learning to split a network into independent branches
#
# A wide network that classifies many classes spends most of its parameters in its top layers,
# where every feature talks to every other feature and to every class. SplitNet
# {cite}`kim2017splitnet` asks whether those top layers can be cut into a *tree of branches*:
# groups of classes that share a group of features, with no weights between groups. Each cut
# weight matrix becomes block-diagonal, so the network has fewer parameters and FLOPs, and the
# branches share nothing above the cut, so they can run on different devices at the same time.
#
# The groups are not chosen by hand. SplitNet learns, together with the weights, a soft
# assignment of every class and every feature to a group, and three regularisers push the
# weights *between* groups to zero, the assignments to be disjoint, and the groups to be of
# similar size. Once the assignments have converged, each unit goes to its most likely group,
# the off-block weights are dropped, and the split network is fine-tuned.
#
# The base network is a wide residual network {cite}`zagoruyko2016wrn`; the paper splits a
# WRN-16-8 on CIFAR-100 {cite}`krizhevsky2009cifar`. The default run here uses a narrow
# WRN-10-2 on the 8×8 digits {cite}`alpaydin1998optdigits` so that the whole chapter runs in
# about two minutes on a CPU; `profile="paper"` sets the authors' CIFAR-100 configuration.
#
# *The code behind this chapter:* {py:class}`~companion.splitnet.assignment.LearnedSplitWRN`
# (the network with its class and feature assignments),
# {py:func}`~companion.splitnet.regularizers.splitnet_regularizer` (the three regularisers),
# {py:func}`~companion.splitnet.experiments.train_grouping`,
# {py:func}`~companion.splitnet.split.split_network` and
# {py:func}`~companion.splitnet.experiments.finetune_split` (grouping, the cut, fine-tuning),
# {py:func}`~companion.splitnet.experiments.train_random_split` (SplitNet-R),
# {py:class}`~companion.splitnet.parallel.MultiDeviceSplitNet` and
# {py:func}`~companion.splitnet.speed.measure` (model-parallel inference), and
# {py:func}`~companion.splitnet.evidence.learned_vs_random_tests` (the paired tests) and
# {py:func}`~companion.splitnet.evidence.findings` (the paper's claims decided on the records).

# %% tags=["parameters"]
profile = "cpu"
seed = 0
device = "auto"
data_dir = None
dataset = None
groups = None
depth = None
width = None
epochs = None
finetune_epochs = None
batch_size = None
lr = None
lr_decay_at = None
finetune_lr = None
finetune_lr_decay_at = None
weight_decay = None
finetune_weight_decay = None
gammas = None
assignment_lr_scale = None
dropout = None
augment = None
train_images = None
devices = None
threads = None
grouping_init = None
gamma_ramp = None

# %%
from companion.chapters import chapter_settings

params = chapter_settings("splitnet", globals())

import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display
from myst_nb import glue

from companion import paper, results
from companion.config import resolve_device
from companion.data import load_images
from companion.evidence import decide, decision_frame
from companion.reproduce.plan import coverage, coverage_sentence, planned_keys
from companion.splitnet import diagnostics, evidence, experiments, figures, speed
from companion.splitnet.settings import GRID, PROFILES, differences_from_paper
from companion.tolerance import glue_result, show
from companion.training import seed_everything, use_threads

use_threads(params.threads)
started = time.perf_counter()
seed_everything(params.seed)
pd.set_option("display.width", 200)
pd.set_option("display.max_columns", 20)

# %% [markdown]
# ## The method
#
# **Split tree.** A configuration such as `2-2-2` gives the number of groups at the second
# stage, the third stage and the classifier of a three-stage WRN; the first stage is always
# shared. Numbers never decrease going up, and a group below is the union of groups above
# (`2-4-4`: two branches in stage 2 that each fork in two). The paper's configurations are
# `1-1-4` (only the classifier, "FC"), `1-2-2` ("shallow", 6 split layers), `2-2-2` ("deep",
# 11 layers) and a hierarchical one.
#
# **Assignments.** A split layer with $D$ inputs and $K$ outputs has an input assignment
# $p_g \in [0,1]^D$ and an output assignment $q_g \in [0,1]^K$ for each group $g$: every unit's
# column is a softmax over groups of free logits. The output assignment of a layer is the input
# assignment of the next; all blocks of a residual stage share one output assignment (the skip
# connections add the same channels), and a super-group's assignment is the sum of its
# sub-groups'.
#
# **Regularisers** ($P_g = \mathrm{diag}(p_g)$, $Q_g = \mathrm{diag}(q_g)$):
#
# $$R_W = \sum_g \sum_i \big\|((I-P_g)\,W\,Q_g)_{i*}\big\|_2 + \sum_g \sum_j \big\|(P_g\,W\,(I-Q_g))_{*j}\big\|_2,$$
#
# a group-lasso on the weights that leave or enter a group;
# $R_D = \sum_{g<h} p_g \cdot p_h$ (disjoint assignments) and
# $R_E = \sum_g \big(\sum_i p_{gi}\big)^2$ (balanced groups). The objective is
# cross-entropy $+\ \lambda\|W\|^2 + \sum_\text{layers} (\gamma_1 R_W + \gamma_2 R_D + \gamma_3 R_E)$
# with the authors' normalisations: $R_D$ scores 1 for uniform assignments and 0 for disjoint
# ones, $R_E$ scores 1 for a perfectly balanced split, $R_W$ scores 1 for weights of the
# initial scale under uniform assignments.
#
# The tree of the configuration run here (the classes at the leaves are learned below):

# %%
fig, ax = plt.subplots(figsize=(7, 3))
figures.plot_split_tree(params.groups, ax=ax)
plt.show()

# %% [markdown]
# ## How much a split saves (Table 2)
#
# Our counter counts convolution kernels and the classifier's weights and biases (batch norm
# excluded), and FLOPs as twice the multiply-adds of one 32×32 image. It gives the paper's
# WRN-16-8 exactly: 11,000,340 parameters and 3.096 GFLOPs. A split network is counted by
# building it, so its reduction follows from the actual group sizes. Below, the paper's
# learned splits beside the same trees with *equal-size* groups.

# %% tags=["full-width"]
equal_costs = experiments.equal_split_costs(["1-1-4", "1-2-2", "2-2-2", "2-4-4"])
table2 = experiments.table2_comparison(equal_costs, paper.reported("splitnet_table2"))
glue("wrn_params", int(equal_costs.loc[0, "params"]), display=False)
glue("deep_equal_reduction", round(float(table2.loc[3, "params reduced (%)"]), 1), display=False)
table2

# %% [markdown]
# Equal groups are the best case: the deep split of WRN-16-8 then saves
# {glue:text}`deep_equal_reduction:.1f`% of the parameters, against the paper's 46.4% with
# learned groups of unequal sizes. The hierarchical row assumes the tree `2-4-4` (the paper
# names it "2-4" without the third number); the paper's 4.12M parameters lie between what
# `2-4-4` (3.62M) and a two-group deep split (5.73M) give with equal groups.

# %% [markdown]
# ## The data and the unsplit baseline
#
# The digits are standardised per pixel channel; CIFAR-100 (paper profile) per image, with
# random crops and flips as the authors did. The baseline WRN is trained as many epochs as
# SplitNet's two phases together.
#
# *Checked on other machines.* Numbers that come out of training differ slightly from one CPU to
# another (the vector instructions in use decide the order of floating-point sums, and training
# amplifies the difference), so each such result is shown with `show(…, atol=…)` or
# `glue_result(…, atol=…)`: the tolerance within which `make test` requires a re-run on any
# machine to agree with the numbers printed here — three times the largest change we measured across
# CPU kernels (see {doc}`../reproduce`). Everything else is compared exactly.

# %%
data = experiments.load_data(params)
baseline, baseline_history = experiments.train_baseline(params, data)
baseline_error = experiments.last_error(baseline_history)
show(f"{data.name}: {len(data.train_labels)} training and {len(data.test_labels)} test images, "
     f"{data.num_classes} classes; WRN-{params.depth}-{params.width} baseline test error "
     f"{baseline_error:.2f}%", atol=2.5)  # 3 × the largest change of an error measured (0.83)

# %% [markdown]
# ## Phase 1: learning the groups
#
# The network and the assignment logits are trained together with the full objective
# ($\gamma$ = 1, 1, 10 as in the released script; batch-norm scales in the residual blocks fixed
# at 1, so they cannot undo the penalty on the weights). **Deviations at CPU scale** (all listed
# in the table at the end of this section): the authors train 200,000 steps; here the grouping
# phase has a few hundred, so the assignment logits learn with a larger step
# (`assignment_lr_scale` × the weights' learning rate; 1 in the paper profile) — without it the
# logits barely leave their uniform start in this budget. And the grouping phase here starts
# from the trained baseline (`grouping_init="baseline"`, what the authors' code offers as
# `--basemodel`), without the disjoint term ($\gamma_2 = 0$; $R_W$ and $R_E$ on) for the first
# half of its epochs (`gamma_ramp=0.5`), as explained below. The paper profile keeps the
# paper's procedure: from scratch, all three terms from the first step.
#
# Why the change: with the paper's procedure at this budget, a review of the earlier CPU runs
# found 9 of 10 classes ending in the group their random $N(0, 0.01^2)$ initial logits gave them
# (the one move balanced the groups), settled after the first epoch: the "learned" split was a
# random balanced split, the very object SplitNet-R draws. Starting from a network that already
# separates the classes, and letting the weights reorganise under $R_W$ (with the balance term
# $R_E$) before the disjoint term hardens the assignments, is meant to let the classes move; the
# pilot and the diagnostics below measure whether they do.

# %% tags=["full-width"]
grouping = experiments.train_grouping(params, data, baseline)
terms = grouping.history.epochs[["epoch", "cross_entropy", "R_W", "R_D", "R_E"]]
glue_result("final_R_D", float(terms["R_D"].iloc[-1]), precision=".2f", atol=0.09)
show(terms.iloc[[0, len(terms) // 4, len(terms) // 2, len(terms) - 1]].round(3).set_index("epoch"),
     atol=0.09)  # 3 × the largest change measured (R_W: 0.028)

# %% [markdown]
# $R_D$ stays near 1 (uniform assignments) while it is held back, then falls towards 0 (reached
# only when every unit commits to one group), $R_E$ stays near 1 (balanced groups), and $R_W$
# falls as the weights between groups shrink. The assignments as
# they sharpen: rows are groups, columns are units ordered by their final group, colour is the
# probability (yellow = 1).

# %%
names = ["classes", "head_in"] + [n for n in grouping.model.assignments.free_names if n.endswith("block0_mid")][:1]
steps = sorted({0, params.epochs // 8, params.epochs // 3, params.epochs})
figures.plot_assignment_sharpening(grouping.snapshots, names, steps, figsize=(10, 4))
plt.show()

# %% [markdown]
# The learned weights reordered by group (the figure of the research summary): rows are output
# units, columns input units, both sorted by their arg-max group, red lines mark the groups.
# The weights off the diagonal blocks shrink during the grouping phase (how close to zero they
# get decides what the cut costs); the baseline's weights, ordered by the same groups, have no
# such structure.

# %%
figures.plot_block_weights({"SplitNet": grouping.model.network, "baseline": baseline},
                           grouping.model.assignments,
                           experiments.figure_layers(grouping.model.assignments), figsize=(10, 5))
plt.show()

# %% [markdown]
# ## Phase 2: the hard split and fine-tuning
#
# Every unit goes to its arg-max group and every split layer keeps only its diagonal blocks.
# What the cut alone costs depends on how far the grouping phase drove the off-block weights to
# zero and each unit's assignment to one group ($R_D$ near 0); fine-tuning (cross-entropy and
# weight decay only) recovers the rest.

# %%
split, split_history, error_at_split = experiments.finetune_split(params, data, grouping)
split_error = experiments.finetuned_error(params, split_history, error_at_split)
class_groups = experiments.class_groups(split)
# the error right after the cut is not compared across CPUs (atol=100): with R_D held back, the
# hard cut of a not-yet-disjoint network lands tens of points apart under other CPU kernels
glue_result("error_at_split", error_at_split, precision=".2f", atol=100)
glue_result("split_error", split_error, precision=".2f", atol=2.5)
show(f"test error: after the grouping phase {grouping.history.epochs['test_error'].iloc[-1]:.2f}%, "
     f"after fine-tuning {split_error:.2f}%", atol=2.5)
show(f"test error right after the cut: {error_at_split:.2f}%", atol=100)

# %% [markdown]
# The learned tree with its class groups, and a few test images of every class, one row per
# group. On CIFAR-100 the paper finds groups that resemble its semantic super-classes; on the
# digits, look for shape families.

# %%
fig, ax = plt.subplots(figsize=(7, 3))
figures.plot_split_tree(params.groups, class_groups=class_groups, ax=ax)
plt.show()
figures.plot_class_groups(data.raw_test_images, data.test_labels.numpy(), class_groups,
                          examples=3, figsize=(8, 1.2 * len(class_groups)))
plt.show()

# %% [markdown]
# ### Are these groups learned from the data?
#
# Three checks on this run's class groups (the `cpu-long` section below repeats them over seeds
# on MNIST). *Kept from the initialisation:* the fraction of classes whose final group is the
# arg-max of their random initial logits; a grouping that ignores the initialisation keeps
# 1/G of them on average (G groups of equal size), one that only echoes it keeps all.
# *Agreement with the baseline:* the unsplit network implies a grouping of its own, a balanced
# k-means of its classifier's weight rows (classes whose weights point the same way share
# features); the fraction of classes the learned grouping places alike (under the best matching
# of group labels) beside what random groupings of the same sizes reach, and the share of
# random groupings that agree at least as well (p).

# %%
initial_classes, final_classes = grouping.snapshots[0]["classes"], grouping.snapshots[-1]["classes"]
grouping_facts = evidence.grouping_record(initial_classes, final_classes)
implied = experiments.baseline_grouping(params, baseline)
versus_implied = diagnostics.compare_with_reference(diagnostics.class_partition(final_classes), implied)
glue_result("kept_from_init", grouping_facts["kept_from_init"], precision=".1f", atol=0.3)
glue_result("agree_implied", versus_implied.agreement, precision=".1f", atol=0.3)
# tolerance: a class or so may change group on another CPU (0.1 each), × 3
show(f"classes kept from the initial arg-max: {grouping_facts['kept_from_init']:.1f} "
     f"(a random balanced grouping: {1 / len(class_groups):.1f} on average); agreement with the "
     f"baseline's grouping {versus_implied.agreement:.1f} (random groupings: "
     f"{versus_implied.random_mean:.2f} on average, p = {versus_implied.p_value:.2f})", atol=0.3)

# %% [markdown]
# ## The random control (SplitNet-R)
#
# Are learned groups better than any groups? SplitNet-R has the same tree with random
# equal-size groups of classes and features, fixed from the start and trained for as many
# epochs as SplitNet's two phases. Since SplitNet starts its grouping phase from the trained
# baseline here, SplitNet-R starts from the same baseline, cut along its random groups: both
# then train the same number of epochs from the same network, and only the groups differ
# (the paper trains SplitNet-R from scratch; so does the paper profile here).

# %% tags=["full-width"]
random_split, random_history = experiments.train_random_split(params, data, baseline)
rows = experiments.run_rows(params, data, baseline=baseline, baseline_history=baseline_history,
                            grouping=grouping, split=split, split_history=split_history,
                            error_at_split=error_at_split, random_split=random_split,
                            random_history=random_history)
this_run = pd.DataFrame(rows).drop(columns=list(evidence.CODED_COLUMNS), errors="ignore").set_index("model")
# tolerances: 3 × the largest change measured across CPU kernels (errors 0.83 points; the
# learned groups, hence parameters and FLOPs, differ: 192 parameters, 2,736 FLOPs, 0.063 and
# 0.05 percentage points under the generic kernels)
glue_result("params_reduced", float(this_run.loc["SplitNet", "params_reduced_pct"]), precision=".1f", atol=0.2)
show(this_run.round(2), atol=2.5, columns={"params": 600, "flops": 8500, "params_reduced_pct": 0.2,
                                           "flops_reduced_pct": 0.15, "error_at_split": 100})

# %% [markdown]
# In this run the split network has {glue:text}`params_reduced:.1f`% fewer parameters than the
# baseline (learned groups are slightly unequal, so a little less than an equal split would
# give) and a test error of {glue:text}`split_error:.2f`% ({glue:text}`error_at_split:.2f`%
# right after the cut, before fine-tuning).

# %% [markdown]
# ## Error by split (Table 1)
#
# The paper's CIFAR-100 errors beside ours: every run of this profile and grouping procedure
# recorded in `data/results/splitnet/` (and this one), averaged over seeds. The
# {glue:text}`other_procedure_runs` runs recorded with the earlier procedure (grouping from
# scratch) stay in the store as records of it, but are not pooled with these. The digits are an easy problem on which every model
# errs on a handful of the 360 test images, so differences of a few tenths of a percent are
# one or two images; compare the *ordering* of SplitNet, SplitNet-R and the baseline, not the
# absolute numbers.

# %% tags=["full-width"]
profile_runs = results.load_runs("splitnet", profile=params.profile)
same = experiments.same_procedure(profile_runs, params)
glue("other_procedure_runs", int(profile_runs.loc[~same, "run_id"].nunique()), display=False)
recorded = results.with_this_run("splitnet", profile_runs[same], params.record(), rows)
summary = experiments.summarize_runs(recorded)
experiments.table1_comparison(summary, paper.reported("splitnet_table1"))

# %% [markdown]
# The same runs with every seed drawn ({glue:text}`seed_points_caption`):

# %%
from companion.plotting import SEED_POINTS_CAPTION

glue("seed_points_caption", SEED_POINTS_CAPTION, display=False)
figures.plot_error_by_split(recorded, ax=plt.subplots(figsize=(7, 3.2))[1])
plt.show()

# %% [markdown]
# Learned against random groups, run by run: SplitNet's error minus SplitNet-R's in the same run
# (negative when the learned groups do better), and SplitNet's error at the end of the grouping
# phase and right after the cut.

# %% tags=["full-width"]
versus = experiments.learned_vs_random(recorded)
glue("runs_compared", int(versus["runs"].sum()), display=False)
glue("learned_better", int(versus["learned_better"].sum()), display=False)
glue("random_better", int(versus["random_better"].sum()), display=False)
glue("mean_difference", round(float((versus["difference"] * versus["runs"]).sum() / versus["runs"].sum()), 2),
     display=False)
glue("cut_cost", round(float(((versus["error_at_split"] - versus["grouping_error"]) * versus["runs"]).sum()
                             / versus["runs"].sum()), 2), display=False)
versus

# %% [markdown]
# The claims decided on these runs (the rule of {py:mod}`companion.evidence`: Holm over the
# paper's tested claims at this scale; a claim is *not tested at this scale* when the cut costs
# more than {glue:text}`cut_cost_limit` points before fine-tuning, or when SplitNet-R trains
# otherwise than SplitNet after its cut):

# %% tags=["full-width"]
glue("cut_cost_limit", f"{evidence.CUT_COST_LIMIT:g}", display=False)
with pd.option_context("display.max_colwidth", None):
    display(decision_frame(decide(evidence.findings(params.profile, recorded))))

# %% [markdown]
# Every recorded run, error against parameter count:

# %%
fig, ax = plt.subplots(figsize=(7, 4))
figures.plot_error_vs_parameters(recorded, ax=ax)
ax.set_title(f"{data.name}: test error against parameters, every recorded run")
plt.show()

# %% [markdown]
# ## Model-parallel inference (Table 5)
#
# The branches share nothing above the trunk, so they can run at the same time on different
# devices. The library runs them two ways, both exact: in one process with the trunk on the
# first device and each branch on its own device (`MultiDeviceSplitNet`), and over
# `torch.distributed` with one rank per group of branches, rank 0 broadcasting the trunk's
# features and gathering the logits (`distributed_logits`; tested with two gloo processes).
# The one-process way on the devices of this run:

# %%
difference = experiments.multi_device_difference(split, data.test_images, params.devices)
print(f"devices {list(params.devices)}: largest |logit difference| from one device "
      f"{'< 1e-5' if difference < 1e-5 else f'= {difference:.2e}'}")

# %% [markdown]
# Speed-ups come from `benchmarks/splitnet_parallel.py` ({py:mod}`companion.splitnet.speed`):
# WRN-16-2 (batch 100) and WRN-16-4 (batch 50) on 32×32 inputs, one CPU thread per process, on
# this two-core machine with all other work paused; each is the fastest of a few passes over a
# stream of batches. Every mode is measured the same way: the layer-split baseline pipelines
# successive batches through its two halves, and so do the split modes — the trunk runs batch
# k + 1 while the other worker runs its branches on batch k
# ({py:func}`~companion.splitnet.parallel.pipelined_split_logits`,
# {py:meth}`~companion.splitnet.parallel.MultiDeviceSplitNet.pipelined`); "2 processes" without
# "pipelined" waits at the features' broadcast and the logits' gather for every batch. "ideal"
# is the speed-up the FLOP split allows (the unsplit FLOPs over those of the busiest worker,
# which runs the trunk and its branches), "1 worker" the split network alone (its savings in
# FLOPs). A run whose two `devices` are GPUs (the `paper` profile on a node with two) measures
# its own network and tree the same way, on 50,000 CIFAR-sized images at batch 100 as the paper
# did, and records the table here beside the CPU benchmarks
# ({py:func}`~companion.splitnet.speed.measure_and_record`); a run on CPUs measures nothing here,
# since a timing taken while the book builds would time the build.

# %%
gpus = speed.gpu_pair(params.devices)
if gpus:
    speed.measure_and_record(speed.SpeedSettings(depth=params.depth, width=params.width, batches=500,
                                                 trees=(params.groups,), devices=gpus))

# %% tags=["full-width"]
table5 = experiments.table5_comparison(results.load_runs("splitnet/parallel"), paper.reported("splitnet_table5"))
deep = table5[table5["tree"] == "2-2-2"].set_index("network")
for name, network in [("small", "WRN-16-2, batch 100"), ("large", "WRN-16-4, batch 50")]:
    for column, key in [("ours: 2 processes", "per_batch"), ("ours: 2 processes, pipelined", "pipelined"),
                        ("pipelined / ideal", "of_ideal")]:
        glue(f"deep_{name}_{key}", float(deep.loc[network, column]), display=False)
table5

# %% [markdown]
# Pipelining is what makes the branches' parallelism pay on CPUs: the deep split (2-2-2) runs
# {glue:text}`deep_small_per_batch:.2f`× faster than the unsplit network on one core when the
# two processes wait for each batch, and {glue:text}`deep_small_pipelined:.2f`× pipelined
# (WRN-16-2; {glue:text}`deep_small_of_ideal:.2f` of its FLOP ideal); on the wider WRN-16-4,
# where compute dominates the transfers, {glue:text}`deep_large_pipelined:.2f`×
# ({glue:text}`deep_large_of_ideal:.2f` of the ideal), beside the paper's 1.73× on two GPUs. The
# time breakdown (`--breakdown`) shows where the rest goes: the first worker runs the trunk,
# whose early, high-resolution layers run fewer FLOPs per second than the branches, so the
# second worker waits for it.

# %% [markdown]
# ## Evidence at cpu-long scale: learned against random groups on MNIST
#
# The digits cannot decide whether learned groups beat random ones: their 360 test images make
# every recorded difference one to three images. The `cpu-long` profile runs the comparison on
# MNIST-5k (4,000 training and 1,000 test images of real handwritten digits, whose classes
# share strokes: 4/7/9, 3/5/8), a WRN-10-1 (widths 16-16-32-64) split `2-2-2`, several seeds.
# Per seed, one run of this notebook trains the baseline, then SplitNet (grouping phase from the
# baseline, the first half without $R_D$, then fine-tuning) and SplitNet-R (the baseline cut
# along random balanced groups, trained as many epochs), so both see the same network and the
# same number of epochs (the sizes are printed below). They come from a pilot: an epoch of
# WRN-10-1 on MNIST-5k takes about 9 s of one core (WRN-10-2 about three times as long), so a
# run's 36 epochs need about 6 minutes of one core; on the shared two-core machine the recorded
# runs took the wall times printed below. The book never trains these runs; it renders their
# records (`python -m companion.reproduce --profile cpu-long --chapters splitnet` makes or resumes
# them). Records made with earlier settings of the profile stay in the store but are not pooled
# with these.

# %%
long_params = PROFILES["cpu-long"]
settings_grid_seeds = GRID["cpu-long"]["seed"]
long_runs = results.load_runs("splitnet", profile="cpu-long", keys=planned_keys("splitnet", "cpu-long"))
long_earlier = results.load_runs("splitnet", profile="cpu-long")["run_id"].nunique() - long_runs["run_id"].nunique()
long_plan = coverage("splitnet", "cpu-long")
print(f"cpu-long: {long_params.dataset}, WRN-{long_params.depth}-{long_params.width}, tree "
      f"{long_params.groups}; baseline {long_params.epochs + long_params.finetune_epochs} epochs, "
      f"grouping {long_params.epochs} (without R_D for {round(long_params.gamma_ramp * long_params.epochs)}), "
      f"fine-tuning {long_params.finetune_epochs}, SplitNet-R "
      f"{long_params.epochs + long_params.finetune_epochs}; seeds {settings_grid_seeds}")
print(coverage_sentence(long_plan, "cpu-long"), f"{long_earlier} record(s) of earlier settings left out.")
long_plan

# %% [markdown]
# **Are the groups learned from the data?** Per seed: the learned class groups, the grouping
# the same seed's baseline classifier implies, the fraction of classes kept from the initial
# arg-max (against the 1/G = 0.5 a grouping blind to the initialisation keeps), and the
# agreement with the baseline's grouping against random balanced groupings (p: the share of
# random groupings agreeing at least as well). Then the seeds against each other (random
# 5 + 5 partitions agree on 0.64 of the classes on average, adjusted Rand index 0). A seed changes
# both the baseline and the initial assignment logits, so seeds that disagree do not say which of
# the two decided the groups; the pilot (under "What the CPU profiles change") holds the
# baseline fixed and varies only the logits.

# %% tags=["full-width"]
long_groupings = evidence.grouping_table(long_runs)
long_cross = evidence.cross_seed_table(long_runs)
long_summary = evidence.summary_of_groupings(long_groupings, long_cross)
for name in ("kept_from_init", "agree_baseline", "random_agree_baseline", "cross_seed_agreement",
             "random_cross_seed_agreement"):
    glue(f"long_{name}", "n/a" if pd.isna(long_summary[name]) else f"{long_summary[name]:.2f}", display=False)
display(long_groupings.round(3))
long_cross.round(3)

# %% [markdown]
# The learned groups of every recorded seed, as rows of MNIST test images:

# %%
long_learned = long_runs[long_runs["model"] == "SplitNet"].dropna(subset=["class_partition"]) \
    if "class_partition" in long_runs else long_runs.iloc[:0]
if len(long_learned):
    mnist_test = load_images("mnist5k", "test", params.data_dir)
    long_groups, seeds_shown = [], []
    for seed, code in zip(long_learned["param_seed"], long_learned["class_partition"]):
        long_groups += evidence.groups_of(code)
        seeds_shown += [f"seed {seed}"] * len(evidence.groups_of(code))
    figures.plot_class_groups(mnist_test.images, mnist_test.labels, long_groups, examples=2,
                              figsize=(8, 1.1 * len(long_groups)), titles=seeds_shown)
    plt.show()
else:
    print("no cpu-long run recorded yet")

# %% [markdown]
# **Learned against random groups.** Per seed, SplitNet's and SplitNet-R's test errors (%) on
# the same 1,000 test images, the difference (negative: learned groups better), the discordant
# images (right for one model only), McNemar's exact p, and the paired bootstrap's 95% interval
# and p for the difference; the last row pools the seeds (mean errors and difference, bootstrap
# over test images with each image's results of all seeds kept together). Then the chapter's
# claims decided on these records ({py:data}`~companion.splitnet.evidence.CLAIMS`, the very
# decisions the summary page shows): the raw and the Holm-adjusted p, the verdict, and why a
# claim is not tested at this scale.

# %% tags=["full-width"]
long_tests = evidence.learned_vs_random_tests(long_runs)
long_decisions = decide(evidence.findings("cpu-long"))
glue("long_verdict", evidence.decisions_sentence(long_decisions), display=False)
display(long_tests.round(3))
with pd.option_context("display.max_colwidth", None):
    display(decision_frame(long_decisions))

# %% [markdown]
# The errors of every recorded `cpu-long` seed ({glue:text}`seed_points_caption`):

# %%
if len(long_runs):
    figures.plot_error_by_split(long_runs, ax=plt.subplots(figsize=(5, 3.2))[1])
    plt.show()

# %% [markdown]
# {glue:text}`long_verdict`
#
# On the groupings: the learned groups kept {glue:text}`long_kept_from_init` of the classes in
# their initial group on average (random: 0.5), agreed {glue:text}`long_agree_baseline` with
# their baseline's grouping (random balanced groupings: {glue:text}`long_random_agree_baseline`),
# and {glue:text}`long_cross_seed_agreement` across seeds (random:
# {glue:text}`long_random_cross_seed_agreement`).

# %% [markdown]
# ## What the CPU profiles change
#
# Every parameter on which the CPU profiles differ from the paper's (the authors' released
# script for CIFAR-100):

# %% tags=["full-width"]
pd.DataFrame(differences_from_paper()).set_index("parameter")

# %% [markdown]
# * **Data and network**: 8×8 digits (`cpu`) and MNIST-5k (`cpu-long`) instead of CIFAR-100;
#   WRN-10-2 and WRN-10-1 instead of WRN-16-8; no random crops and flips; batch 64, not 90.
# * **Epochs**: tens instead of the paper's 400 + 240 (the same schedule shape: ×0.1 at the same
#   fractions of each phase).
# * **Dropout**: 0 instead of 0.5 on the split layers — at a few hundred steps dropout slows the
#   grouping phase more than it regularises.
# * **Learning rates**: the weights' are the paper's (0.1, both phases); the assignment logits
#   learn 100× faster (`assignment_lr_scale`), or they barely move in this budget.
# * **Grouping schedule**: from the trained baseline (`grouping_init="baseline"`, the authors'
#   `--basemodel` option) without the disjoint term $R_D$ for the first half of the grouping epochs
#   (`gamma_ramp=0.5`), instead of from scratch with all three terms at once; SplitNet-R then
#   starts from the same baseline. Chosen by the pilot below.

# %% [markdown]
# **The pilot.** An earlier pilot (MNIST-5k, 4 grouping epochs) found that from scratch with all
# three terms (the paper's procedure) the classes kept the group of their random initial logits
# (0.8, 1.0 and 0.9 of them in three initialisations), and that from the baseline with $R_W$
# alone for half the epochs every class drifted into *one* group, which cannot be cut; so the
# balance term stays on and only the disjoint term is held back. The recorded pilot below
# (`benchmarks/splitnet_grouping.py --dataset mnist5k --width 1 --baseline-epochs 12
# --baseline-seed S --procedure … --record`) runs that schedule (from the trained baseline, $R_D$
# held back for half the epochs; a procedure reads INIT:RAMP:SCALE:EPOCHS, SCALE the logits'
# learning-rate scale) from two baselines (seeds 0 and 1, trained as the `cpu-long` ones), with
# three random initialisations of the assignment logits each. Groups that come from the data and
# the baseline, not from the initial logits, are the same whatever the initialisation: agreement
# 1 and adjusted Rand index 1, against about 0.64 and 0 for random 5 + 5 partitions. The last
# columns: each run's agreement with the grouping the baseline's classifier weights imply
# (balanced k-means of its rows), and the learned groups.

# %% tags=["full-width"]
pilot = results.load_runs("splitnet/grouping-pilot")
pilot = pilot[pilot["param_dataset"] == "mnist5k"] if len(pilot) else pilot
long_procedure = (f"{long_params.grouping_init}:{long_params.gamma_ramp:g}:"
                  f"{long_params.assignment_lr_scale:g}:{long_params.epochs}")
long_learned_by_seed = dict(zip(long_learned["param_seed"], long_learned["class_partition"]))
for baseline_seed, frame in (pilot[pilot["procedure"] == long_procedure].groupby("baseline_seed")
                             if len(pilot) else []):
    if baseline_seed in long_learned_by_seed:
        same = all(diagnostics.partition_agreement(evidence.decode_partition(code),
                                                   evidence.decode_partition(long_learned_by_seed[baseline_seed])) == 1.0
                   for code in frame["class_partition"])
        print(f"baseline seed {baseline_seed}, {long_procedure}: every initialisation "
              f"{'reached' if same else 'did not reach'} the groups the cpu-long seed {baseline_seed} learned")
evidence.pilot_summary(pilot).set_index(["baseline seed", "procedure"]) if len(pilot) else print("no pilot recorded")

# %% [markdown]
# With the logits learning 100× faster than the weights, all three initialisations from a
# baseline end in the same class partition, after 8 grouping epochs as after 16; each keeps
# about half of its classes in their initial group, as a grouping blind to the initialisation
# does. So the profile keeps 8 epochs. At 10× (a lower scale with more steps) the
# initialisations end in different partitions. The two baselines lead to different partitions,
# and no learned partition agrees with its baseline classifier's k-means grouping better than
# random groupings do: the groups come from the trained network, but they are not a property of
# the classes that another training run would find again.

# %% [markdown]
# ## What reproduces at CPU scale
#
# * **Counting**: our counter reproduces WRN-16-8's size and cost exactly, and the reductions
#   of splits follow from their group sizes; learned groups are unequal and save less than
#   equal ones, as in the paper.
# * **Grouping**: the regularisers drive the weights between groups down ($R_W$) and keep the
#   groups balanced ($R_E$); with the disjoint term held back for half of this short grouping
#   phase the assignments end only partly disjoint ($R_D$ = {glue:text}`final_R_D` at the end,
#   0 for disjoint), and the cut costs {glue:text}`cut_cost:.2f` points on average before
#   fine-tuning. Whether the *class* groups come from the
#   data depends on the procedure at this budget: from scratch (the paper's procedure) 9 of 10
#   classes stayed in the group of their random initial logits; from the trained baseline with
#   $R_D$ held back at first, this run kept {glue:text}`kept_from_init` of them (agreement with
#   the baseline's own grouping: {glue:text}`agree_implied`), and on MNIST the
#   recorded seeds kept {glue:text}`long_kept_from_init` and agreed
#   {glue:text}`long_cross_seed_agreement` with each other (random groupings:
#   {glue:text}`long_random_cross_seed_agreement`). The pilot separates the two sources: from one
#   trained baseline every initialisation of the logits reached the same class groups, the ones
#   the `cpu-long` seed with that baseline learned (checked under the pilot's table), so the
#   groups come from the trained network, not from the initial logits; but another baseline (another seed) leads to
#   other groups, and none matches the grouping of its baseline's classifier weights better than random
#   groupings do. The groups are learned, not the stable families of similar classes the paper
#   reports on CIFAR-100.
# * **Accuracy**: on the digits every model errs on a handful of test images. In the
#   {glue:text}`runs_compared` digits run(s) of this procedure the learned groups did better than random ones in
#   {glue:text}`learned_better` and worse in {glue:text}`random_better` (mean difference
#   {glue:text}`mean_difference:.2f` points; negative favours SplitNet) — differences of one to
#   three images, which decide nothing. The MNIST runs with paired tests (previous section):
#   {glue:text}`long_verdict` The paper's gap (1.5–2.5 points for its deeper splits on
#   CIFAR-100, 100 classes) needs the paper profile to be tested at its scale.
# * **Parallel speed-up**: every parallel way gives the single-device logits. Pipelined over
#   batches, the deep split's branches on two CPU processes run {glue:text}`deep_small_pipelined:.2f`×
#   (WRN-16-2) and {glue:text}`deep_large_pipelined:.2f`× (WRN-16-4) faster than the unsplit
#   network on one, against the paper's 1.73× on two GPUs; batch by batch they gain much less.

# %%
path = results.record_run("splitnet", params.record(), rows, wall_time_s=time.perf_counter() - started,
                          device=str(resolve_device(params.device)))
