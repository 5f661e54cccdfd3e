# An MMEngine config (the parts lrspec imports):
#   lrspec import mmengine examples/importers/mmengine_config.py \
#       --model examples.importers.models:detector --iters-per-epoch 100
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(
        bias_lr_mult=2.0,
        norm_decay_mult=0.0,
        dwconv_decay_mult=0.5,
        custom_keys={"head": dict(lr_mult=10.0), "backbone.0": dict(lr_mult=0.1, decay_mult=0.5)},
    ),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type="MultiStepLR", by_epoch=True, begin=0, end=12, milestones=[8, 11], gamma=0.1),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=12)
