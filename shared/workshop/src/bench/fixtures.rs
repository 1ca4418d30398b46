//! What the benchmark runs on, made on the spot under its work directory: an OCI bundle of the
//! busybox rootfs for runc and crun, OCI image layouts of 1, 16 and 128 layers for chapter 4,
//! and a large root filesystem tarball for the import test.
//!
//! Archives are made with the host's `tar` and hashed with `sha256sum`, so the workshop needs no
//! archive or hashing crate just for its benchmark.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Run a helper program to completion; its standard output, or an error with what it printed.
pub fn helper<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<String, String> {
    let shown = std::iter::once(program.to_string())
        .chain(
            args.iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned()),
        )
        .collect::<Vec<_>>()
        .join(" ");
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run `{shown}`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{shown}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn mkdir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("write {}: {e}", path.display()))
}

/// An OCI runtime bundle whose root is `rootfs` and whose process is `/bin/true`, without a
/// terminal. The config is the one `runc spec` writes (runc's defaults: every namespace but
/// the user namespace, the default mounts and masked paths, a read-only root), changed in
/// exactly those three places.
pub fn oci_bundle(bundle: &Path, rootfs: &Path) -> Result<PathBuf, String> {
    mkdir(bundle)?;
    let config_path = bundle.join("config.json");
    let _ = fs::remove_file(&config_path);
    helper(
        "runc",
        &[
            OsStr::new("spec"),
            OsStr::new("--bundle"),
            bundle.as_os_str(),
        ],
    )?;
    let config = fs::read_to_string(&config_path)
        .map_err(|e| format!("read {}: {e}", config_path.display()))?;
    let rootfs = rootfs
        .to_str()
        .ok_or_else(|| format!("the rootfs path {} is not UTF-8", rootfs.display()))?;
    let config = edit_spec(&config, rootfs)?;
    write(&config_path, config.as_bytes())?;
    Ok(bundle.to_path_buf())
}

/// The three edits of `runc spec`'s config.json, done on the text (runc writes it with one key
/// per line, in a fixed layout). Fails when the layout is not the expected one rather than
/// running something else than `/bin/true`.
pub fn edit_spec(config: &str, rootfs: &str) -> Result<String, String> {
    let unexpected = |what: &str| format!("`runc spec` wrote a config.json without {what}");
    if !config.contains("\"terminal\": true") {
        return Err(unexpected("\"terminal\": true"));
    }
    let config = config.replacen("\"terminal\": true", "\"terminal\": false", 1);

    let args_start = config
        .find("\"args\": [")
        .ok_or_else(|| unexpected("\"args\""))?;
    let args_end = config[args_start..]
        .find(']')
        .map(|i| args_start + i + 1)
        .ok_or_else(|| unexpected("the end of \"args\""))?;
    let config = format!(
        "{}\"args\": [\"/bin/true\"]{}",
        &config[..args_start],
        &config[args_end..]
    );

    if !config.contains("\"path\": \"rootfs\"") {
        return Err(unexpected("\"root\": {\"path\": \"rootfs\"}"));
    }
    let rootfs = rootfs.replace('\\', "\\\\").replace('"', "\\\"");
    Ok(config.replacen(
        "\"path\": \"rootfs\"",
        &format!("\"path\": \"{rootfs}\""),
        1,
    ))
}

/// `tar -c` of a directory's contents into `archive`.
pub fn tar_directory(dir: &Path, archive: &Path) -> Result<(), String> {
    helper(
        "tar",
        &[
            OsStr::new("--numeric-owner"),
            OsStr::new("-C"),
            dir.as_os_str(),
            OsStr::new("-cf"),
            archive.as_os_str(),
            OsStr::new("."),
        ],
    )
    .map(|_| ())
}

/// The hex sha256 of a file, from `sha256sum`.
fn sha256_of(path: &Path) -> Result<String, String> {
    let out = helper("sha256sum", &[path.as_os_str()])?;
    out.split_whitespace()
        .next()
        .filter(|d| d.len() == 64)
        .map(str::to_string)
        .ok_or_else(|| format!("sha256sum {}: unexpected output {out:?}", path.display()))
}

/// Copy a file into the layout's blobs under its digest: `(sha256:HEX, size)`.
fn add_blob(blobs: &Path, file: &Path) -> Result<(String, u64), String> {
    let digest = sha256_of(file)?;
    let target = blobs.join(&digest);
    fs::copy(file, &target)
        .map_err(|e| format!("copy {} -> {}: {e}", file.display(), target.display()))?;
    let size = fs::metadata(&target)
        .map_err(|e| format!("stat {}: {e}", target.display()))?
        .len();
    Ok((format!("sha256:{digest}"), size))
}

/// An OCI image layout in `dir` tagged `tag`: the busybox layer at the bottom, then
/// `extra_layers` small layers on top, each adding one file (`/layers/N`), like an image
/// built from a Dockerfile with many small steps.
pub fn image_layout(
    dir: &Path,
    base_layer: &Path,
    extra_layers: usize,
    tag: &str,
) -> Result<(), String> {
    let blobs = dir.join("blobs/sha256");
    mkdir(&blobs)?;
    let scratch = dir.join("scratch");
    mkdir(&scratch)?;

    let mut layer_files = vec![base_layer.to_path_buf()];
    for n in 1..=extra_layers {
        let content = scratch.join(format!("layer-{n}"));
        mkdir(&content.join("layers"))?;
        write(
            &content.join("layers").join(n.to_string()),
            format!("layer {n}\n").as_bytes(),
        )?;
        let archive = scratch.join(format!("layer-{n}.tar"));
        tar_directory(&content, &archive)?;
        layer_files.push(archive);
    }

    let mut descriptors = Vec::new();
    for file in &layer_files {
        let (digest, size) = add_blob(&blobs, file)?;
        descriptors.push(format!(
            r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{digest}","size":{size}}}"#
        ));
    }
    let config_file = scratch.join("config.json");
    write(
        &config_file,
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    )?;
    let (config_digest, config_size) = add_blob(&blobs, &config_file)?;
    let manifest_file = scratch.join("manifest.json");
    write(
        &manifest_file,
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{config_size}}},"layers":[{}]}}"#,
            descriptors.join(",")
        )
        .as_bytes(),
    )?;
    let (manifest_digest, manifest_size) = add_blob(&blobs, &manifest_file)?;
    write(
        &dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{manifest_size},"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}]}}"#
        )
        .as_bytes(),
    )?;
    write(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    fs::remove_dir_all(&scratch).map_err(|e| format!("rm -r {}: {e}", scratch.display()))
}

/// A root filesystem tarball of about `megabytes` MB: the busybox tree plus files of
/// incompressible bytes, 100 KB each (a real image is many files, not one big one). Its path
/// and exact size.
pub fn big_tarball(work: &Path, rootfs: &Path, megabytes: u64) -> Result<(PathBuf, u64), String> {
    let staging = work.join("big-staging");
    let _ = fs::remove_dir_all(&staging);
    helper(
        "cp",
        &[OsStr::new("-a"), rootfs.as_os_str(), staging.as_os_str()],
    )?;
    let data = staging.join("data");
    mkdir(&data)?;
    const FILE_SIZE: usize = 100_000;
    let files = (megabytes * 1_000_000).div_ceil(FILE_SIZE as u64);
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut buffer = vec![0u8; FILE_SIZE];
    for n in 0..files {
        noise.fill(&mut buffer);
        write(&data.join(format!("file-{n:05}")), &buffer)?;
    }
    let archive = work.join("big.tar");
    tar_directory(&staging, &archive)?;
    fs::remove_dir_all(&staging).map_err(|e| format!("rm -r {}: {e}", staging.display()))?;
    let size = fs::metadata(&archive)
        .map_err(|e| format!("stat {}: {e}", archive.display()))?
        .len();
    Ok((archive, size))
}

/// xorshift64: bytes that no filesystem or page cache can compress or deduplicate, made
/// without a random-number crate. Not for anything secret.
struct Noise(u64);

impl Noise {
    fn fill(&mut self, buffer: &mut [u8]) {
        for chunk in buffer.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let bytes = self.0.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The layout of `runc spec` (runc 1.1), abridged.
    const SPEC: &str = "{\n\t\"ociVersion\": \"1.0.2-dev\",\n\t\"process\": {\n\t\t\"terminal\": true,\n\
        \t\t\"args\": [\n\t\t\t\"sh\"\n\t\t],\n\t\t\"cwd\": \"/\"\n\t},\n\
        \t\"root\": {\n\t\t\"path\": \"rootfs\",\n\t\t\"readonly\": true\n\t}\n}\n";

    #[test]
    fn the_spec_runs_bin_true_without_a_terminal_from_the_given_root() {
        let edited = edit_spec(SPEC, "/tmp/bench/rootfs").expect("the layout of runc spec");
        assert!(edited.contains("\"terminal\": false"), "{edited}");
        assert!(edited.contains("\"args\": [\"/bin/true\"],"), "{edited}");
        assert!(
            edited.contains("\"path\": \"/tmp/bench/rootfs\""),
            "{edited}"
        );
        assert!(!edited.contains("\"sh\""), "{edited}");
        assert!(
            edited.contains("\"cwd\": \"/\""),
            "the rest stays: {edited}"
        );
    }

    #[test]
    fn an_unexpected_spec_is_refused() {
        assert!(edit_spec("{}", "/r").is_err());
        let no_root = SPEC.replace("\"path\": \"rootfs\"", "\"path\": \"elsewhere\"");
        assert!(edit_spec(&no_root, "/r").is_err());
    }

    #[test]
    fn noise_fills_every_byte_and_does_not_repeat() {
        let mut noise = Noise(1);
        let mut a = [0u8; 13];
        let mut b = [0u8; 13];
        noise.fill(&mut a);
        noise.fill(&mut b);
        assert_ne!(a, b);
        assert!(a.iter().any(|&x| x != 0));
    }
}
