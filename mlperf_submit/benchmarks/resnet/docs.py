"""What the submission README says about resnet (ResNet-50 v1.5 on ImageNet); the target comes from the rules."""

from mlperf_submit.benchmarks.common.docs import BenchmarkDoc

DOCS = BenchmarkDoc(
    title="Image classification: ResNet-50 v1.5 on ImageNet",
    problem="Classify 224x224 RGB images into the 1,000 ImageNet classes.",
    dataset="ImageNet (ILSVRC 2012): 1,281,167 training and 50,000 validation JPEGs in the "
    "folder layout train/<wnid>/*.JPEG, val/<wnid>/*.JPEG.",
    preprocessing="Training: decode, random-resized crop to 224, random horizontal flip, "
    "per-channel mean/std normalisation. Evaluation: resize to 256, center crop 224, "
    "normalisation. Primary pipeline NVIDIA DALI; a torch DataLoader + PIL fallback applies "
    "the same transforms.",
    data_order="Training data reshuffled every epoch from the run seed and sharded by rank; "
    "the validation set is read in a fixed order, each image exactly once per evaluation.",
    model="ResNet-50 v1.5 (stride 2 in the 3x3 convolution of the bottleneck), written in "
    "this package without torchvision.",
    layers="7x7 conv stem, max-pool, 4 stages of bottleneck blocks (3, 4, 6, 3) with "
    "widths 256, 512, 1024, 2048, global average pool, 1000-way fully connected layer.",
    init="Kaiming-normal convolutions, batch-norm gamma 1 (0 for the last BN of each "
    "residual branch) and beta 0, fully connected layer as in the reference.",
    loss="Cross entropy with label smoothing 0.1.",
    optimizer="LARS (polynomial decay power 2, end learning rate 0.0001, epsilon 0, linear "
    "warm-up epochs) or SGD with momentum; the logged hyperparameters are read back from "
    "the optimizer in effect.",
    metric="Top-1 accuracy on the validation set (eval_accuracy).",
    eval_frequency="Every 4 epochs, with a configurable offset of 0-3 epochs.",
    eval_thoroughness="The whole validation set (50,000 images) at every evaluation.",
    references=("He et al., Deep Residual Learning for Image Recognition, CVPR 2016",),
)
