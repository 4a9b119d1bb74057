# ACME's camera system: the head office and two plants, one domain.
domain "acme" {
  description = "ACME Corp. video surveillance"
}

locals {
  # Storage every recording server has; standby servers get the same.
  recordings = {
    path     = "/var/lib/vigil/recordings"
    max_size = "16TB"
    min_free = "2%"
  }
}
