# The operator image: a static manager binary on distroless, run as nonroot.
#   docker build -t ghcr.io/ovhbridge/ovhbridge-operator:dev .

FROM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH
WORKDIR /workspace
# Modules first: a source change then reuses the downloaded modules layer.
COPY go.mod go.sum ./
RUN go mod download
# .dockerignore lets in only what `go build .` needs.
COPY . .
# No cgo: the binary is static and runs on distroless/static (no libc).
# -trimpath and -s -w: no build paths or symbol tables in the image.
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w" -o /out/manager .

# No shell, no package manager; the nonroot variant's user is 65532.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
