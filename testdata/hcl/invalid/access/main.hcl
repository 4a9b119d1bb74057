user "bob" {
  role          = "superuser"
  cameras       = ["lobby-[", "nope"]
  password_hash = "hunter2hunter2"
}

user "carol" {
  role = "viewer"
}

token "ci" {
  role = "admin"
  hash = "sha256:abc"
}

token "bob-ci" {
  role = "admn"
  hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
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

  token "ci" {
    role = "viewer"
  }
}

user "bob" {
  role          = "viewer"
  password_hash = "$argon2id$v=19$m=65536,t=3$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
}
