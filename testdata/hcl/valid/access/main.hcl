# Users and tokens at the top level belong to every site; those in a site
# block to that site only.
user "alice" {
  role          = "operator"
  cameras       = ["lobby-*", "dock-1"]
  password_hash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
}

token "prometheus" {
  role = "viewer"
  hash = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
}

site "hq" {
  server "rec-1" {
    address = "10.0.0.11"
    storage "main" {
      path = "/rec"
    }
  }
  camera "lobby-1" {
    url    = "rtsp://10.0.1.1/s"
    server = "rec-1"
  }
  camera "dock-1" {
    url    = "rtsp://10.0.1.2/s"
    server = "rec-1"
  }

  token "lobby-display" {
    role    = "viewer"
    cameras = ["lobby-*"]
    hash = "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
  }
}
