# NOT REACHABLE FROM HERE: the servers of this example have private addresses
# (10.x) of an imaginary network. Read it, validate it
# (VIGIL_VAR_camera_password=x vigil validate examples/enterprise) and format
# it; `vigil plan`, `vigil apply` and `vigil status -config`
# would try to reach those addresses and fail. For a site that runs on this
# machine, use examples/quickstart with `vigil dev`.
#
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
