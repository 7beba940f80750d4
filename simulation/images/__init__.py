"""Images for the real nodes: every image the program renders, under its exact reference,
assembled locally from upstream versions built outside the repository (see docs/images.md).

assembler  files + config -> an image tarball (OCI layout and docker-archive), deterministic
base       the bases upstream's images sit on, from this machine's Debian files
recipes    one recipe per reference, from the upstream Dockerfiles at the pinned tags
build      the cache, `ctr images import`, and the check that every name is there
containerd a private containerd to import into and run each image's --version in
rendered   which references the program renders for a stack (under Pulumi's mocks)
"""
