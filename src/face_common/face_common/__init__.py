"""The pieces every face package shares (see README.md); rclpy only in qos and spin."""
