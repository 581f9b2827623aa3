"""mirror-lag's result written into the self-model checkpoint, where lip_policy_node reads it.

The checkpoint's metadata gets actuator_lag (the visible lag) and servo_time_constant, plus
the whole measurement; the model itself is left as it was and the file is replaced
atomically, so a crash leaves the old checkpoint.
"""

import json

from face_common.files import replace_atomically


def write_lag(checkpoint_path, figures):
    """Store figures['visible_lag_s'] as metadata actuator_lag and
    figures['servo_time_constant_s'] as servo_time_constant in the checkpoint (atomic)."""
    import torch

    from mirror_calibration.self_model import load_checkpoint

    _, checkpoint = load_checkpoint(checkpoint_path)  # refuses a damaged or foreign file
    checkpoint['metadata'] = {**checkpoint.get('metadata', {}),
                              'actuator_lag': float(figures['visible_lag_s']),
                              'servo_time_constant': float(figures['servo_time_constant_s']),
                              # plain numbers only: the file must load with weights_only
                              'actuator_lag_measurement': json.loads(
                                  json.dumps(figures, default=float))}
    with replace_atomically(checkpoint_path) as f:
        torch.save(checkpoint, f)
