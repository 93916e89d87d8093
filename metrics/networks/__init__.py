"""Networks behind the pretrained-network metrics, each in its own module, rebuilt from their specifications.

* :mod:`metrics.networks.inception`: the FID Inception v3 (pytorch-fid layout);
* :mod:`metrics.networks.syncnet`: SyncNet v2 (LSE-D, LSE-C, AV offset);
* :mod:`metrics.networks.lipnet`: LipNet (WER, CER on GRID);
* :mod:`metrics.networks.openface`: OpenFace nn4.small2 (ACD with ``-openface`` variants).

Weights never come from here: each builder takes a state dict loaded by :mod:`bench.weights` (safetensors or
``torch.load(weights_only=True)``).
"""
