site "hq" {
  server "srv-1" {
    address = "10.0.0.1"
    storage "main" {
      path = "/rec"
    }
  }

  camera "plain" {
    url             = "rtsp://10.0.1.1/stream"
    server          = "srv-1"
    tls_fingerprint = "sha256:2f7c3d7d4e1b3a8c5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d"
  }
  camera "plain-insecure" {
    url          = "rtsp://10.0.1.2/stream"
    server       = "srv-1"
    tls_insecure = true
  }
  camera "both" {
    url             = "rtsps://10.0.1.3/stream"
    server          = "srv-1"
    tls_fingerprint = "sha256:2f7c3d7d4e1b3a8c5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d"
    tls_insecure    = true
  }
  camera "short" {
    url             = "rtsps://10.0.1.4/stream"
    server          = "srv-1"
    tls_fingerprint = "sha256:2f7c3d"
  }
  camera "md5" {
    url             = "rtsps://10.0.1.5/stream"
    server          = "srv-1"
    tls_fingerprint = "md5:2f7c3d7d4e1b3a8c5e6f7a8b9c0d1e2f"
  }
}
