"""Actuator positions -> camera image: the hidden skin model driving the photo warp.

FaceRenderer is what face_sim_node, the benchmark and the sweep video use. The learner
never imports it (it contains the skin model); face_sim.warp renders moved meshes without it.
"""


from face_motor_driver.face_config import default_face_config_path, load_face_config
from face_msgs.face_layout import to_face_frame
from face_sim.skin import SkinModel
from face_sim.warp import MeshWarpRenderer


class FaceRenderer(MeshWarpRenderer):
    """Renders the face at given actuator positions as an RGB camera image.

    width, height: image size [px]; config: FaceConfig (default config/face_motors.yaml);
    seed: the hidden skin's per-head variation. render(positions) takes a mapping
    actuator name -> joint position [rad].
    """

    def __init__(self, width=640, height=480, config=None, seed=0):
        super().__init__(width, height)
        self.config = config or load_face_config(default_face_config_path())
        neutral_points, _ = to_face_frame(self.mesh_px, range(len(self.mesh_px)))
        self.skin = SkinModel(neutral_points[:, :2], self.config, seed)

    def mesh_displacement(self, positions):
        """(SkinPose, (478, 2) image displacement [px]) of the face at positions."""
        pose = self.skin.pose(positions)
        return pose, pose.displacement @ self.frame_to_image
