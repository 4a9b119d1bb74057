site "hq" {
  server "srv-1" {
    address = "10.0.0.1"
    storage "main" {
      path = "/rec"
    }
  }

  # Pinned: openssl's form (upper case, colons) is written canonically.
  camera "pinned" {
    url             = "rtsps://10.0.1.1:322/stream"
    server          = "srv-1"
    tls_fingerprint = "SHA256:2F:7C:3D:7D:4E:1B:3A:8C:5E:6F:7A:8B:9C:0D:1E:2F:3A:4B:5C:6D:7E:8F:9A:0B:1C:2D:3E:4F:5A:6B:7C:8D"
  }
  camera "insecure" {
    url          = "rtsps://10.0.1.2:322/stream"
    server       = "srv-1"
    tls_insecure = true
  }
  camera "verified" {
    url    = "rtsps://cam3.example.com:322/stream"
    server = "srv-1"
  }
}
