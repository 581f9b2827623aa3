"""Plain-Python parts every face package shares; no rclpy."""
