# NOT REACHABLE FROM HERE: the servers of this example have private addresses
# (10.x) of an imaginary network. Read it, validate it
# (VIGIL_VAR_camera_password=x vigil validate examples/enterprise) and format
# it; `vigil plan`, `vigil apply` and `vigil status -config`
# would try to reach those addresses and fail. For a site that runs on this
# machine, use examples/quickstart with `vigil dev`.
#
# Camera credentials never live in git: set them when validating or applying,
#   VIGIL_VAR_camera_password=... vigil validate examples/enterprise
variable "camera_password" {
  type        = string
  sensitive   = true
  description = "Password of the vigil account on every camera"
}

variable "camera_username" {
  type    = string
  default = "vigil"
}

variable "retention" {
  type        = string
  default     = "30d"
  description = "How long ordinary cameras keep their recordings"
}
