/**
 * The OCI image format (image-spec 1.1): the JSON documents stored in the content store.
 * Field names are the spec's, so the documents pass through to registries and other engines.
 */

export const MEDIA_TYPE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_TYPE_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';

/** The defaults a container inherits from its image (`config` in the image config). */
export interface ImageRunConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  /** The shell of shell-form commands (Dockerfile SHELL). */
  Shell?: string[];
  Healthcheck?: HealthConfig;
  /** Dockerfile ONBUILD triggers, run by builds FROM this image. */
  OnBuild?: string[] | null;
}

/** Docker's HealthConfig; durations in nanoseconds, 0 meaning Docker's default. */
export interface HealthConfig {
  /** `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", "…"]`. */
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface ImageHistory {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  /** True for a step that added no layer (ENV, CMD, …). */
  empty_layer?: boolean;
}

/** The image config blob; `sha256:` + its hash is the image ID. */
export interface ImageConfig {
  /** RFC 3339. */
  created?: string;
  author?: string;
  /** Go's GOARCH names: amd64, arm64, … */
  architecture: string;
  os: string;
  variant?: string;
  config?: ImageRunConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: ImageHistory[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: typeof MEDIA_TYPE_MANIFEST;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** Node's `process.arch` in the GOARCH spelling that image configs and platforms use. */
export function goArchitecture(arch: string = process.arch): string {
  const names: Record<string, string> = { x64: 'amd64', ia32: '386', ppc64: 'ppc64le' };
  return names[arch] ?? arch;
}
