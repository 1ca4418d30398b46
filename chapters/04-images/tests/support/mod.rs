//! Test images made on the spot: layer archives (honest and hostile), OCI image layouts and
//! `docker save` tarballs, so chapter 4's tests need no download.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One entry of a layer archive.
pub enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

/// A layer archive with the entries as given, names written raw into the headers: this is how
/// hostile archives are made (the tar crate's own setters refuse `..`).
pub fn layer(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_old();
        let (name, kind, data, link): (&str, tar::EntryType, &[u8], Option<&str>) = match entry {
            Entry::File(name, data) => (name, tar::EntryType::Regular, data, None),
            Entry::Dir(name) => (name, tar::EntryType::Directory, b"", None),
            Entry::Symlink(name, target) => (name, tar::EntryType::Symlink, b"", Some(target)),
            Entry::Hardlink(name, target) => (name, tar::EntryType::Link, b"", Some(target)),
        };
        let raw = header.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            raw.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_size(data.len() as u64);
        header.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The busybox rootfs as a layer archive.
pub fn busybox_layer(rootfs: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", rootfs).unwrap();
    builder.into_inner().unwrap()
}

pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Write an OCI image layout with these layers (bottom first), tagged `tag`.
pub fn oci_layout(dir: &Path, layers: &[Vec<u8>], tag: &str) {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let write_blob = |bytes: &[u8]| {
        let digest = sha256(bytes);
        fs::write(blobs.join(&digest), bytes).unwrap();
        (format!("sha256:{digest}"), bytes.len())
    };
    let (config_digest, config_size) = write_blob(
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let layer_descriptors: Vec<serde_json::Value> = layers
        .iter()
        .map(|layer| {
            let (digest, size) = write_blob(layer);
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size})
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": layer_descriptors,
    });
    let (manifest_digest, manifest_size) = write_blob(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }],
    });
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// Write a `docker save` tarball with these layers (bottom first), tagged `tag`.
pub fn docker_save(path: &Path, layers: &[Vec<u8>], tag: &str) {
    let mut builder = tar::Builder::new(Vec::new());
    let mut names = Vec::new();
    let add = |builder: &mut tar::Builder<Vec<u8>>, name: &str, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, data).unwrap();
    };
    for (i, layer) in layers.iter().enumerate() {
        let name = format!("layer{i}/layer.tar");
        add(&mut builder, &name, layer);
        names.push(name);
    }
    let manifest =
        serde_json::json!([{"Config": "config.json", "RepoTags": [tag], "Layers": names}]);
    add(&mut builder, "config.json", b"{}");
    add(
        &mut builder,
        "manifest.json",
        manifest.to_string().as_bytes(),
    );
    fs::write(path, builder.into_inner().unwrap()).unwrap();
}

/// Everything about a directory tree that a write could change: paths, types, modes, owners,
/// sizes, contents, link targets. Two equal fingerprints mean an untouched tree.
pub fn fingerprint(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    walk(dir, Path::new(""), &mut lines);
    lines.sort();
    lines
}

fn walk(root: &Path, relative: &Path, lines: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(root.join(relative)) else {
        return;
    };
    for entry in entries.flatten() {
        let name: PathBuf = relative.join(entry.file_name());
        let meta = fs::symlink_metadata(entry.path()).unwrap();
        let kind = meta.file_type();
        let detail = if kind.is_file() {
            sha256(&fs::read(entry.path()).unwrap())
        } else if kind.is_symlink() {
            fs::read_link(entry.path()).unwrap().display().to_string()
        } else if kind.is_char_device() {
            format!("char {}", meta.rdev())
        } else {
            String::new()
        };
        lines.push(format!(
            "{} {:o} {}:{} {} {detail}",
            name.display(),
            meta.mode(),
            meta.uid(),
            meta.gid(),
            meta.len()
        ));
        if kind.is_dir() {
            walk(root, &name, lines);
        }
    }
}
