//! Copies that survive the disk: a folder (a NAS mount) and S3-compatible object storage. Every
//! copy is read back and compared by SHA-256 before it counts, and the same retention runs there.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::schedule::{RetentionPolicy, prune_plan};

/// Copies `backup` into `dir` under the same name: temp name, fsync, rename, then re-read.
pub fn copy_to_dir(backup: &Path, dir: &Path, expected_sha256: &str) -> anyhow::Result<PathBuf> {
    let name = backup
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} has no file name", backup.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dest = dir.join(name);
    let tmp = dir.join(format!(".{}.partial", name.to_string_lossy()));
    let result = (|| -> anyhow::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut src = std::fs::File::open(backup)?;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        std::io::copy(&mut src, &mut out)?;
        out.flush()?;
        out.sync_all()?;
        std::fs::rename(&tmp, &dest)?;
        super::sync_dir(dir)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("cannot copy the backup to {}", dir.display())));
    }
    let (_, hash) = super::sha256_file(&dest)?;
    if hex::encode(hash) != expected_sha256 {
        bail!(
            "the copy in {} does not read back identically (SHA-256 differs)",
            dir.display()
        );
    }
    Ok(dest)
}

/// Applies retention to a folder of backups; returns the names deleted.
pub fn prune_dir(dir: &Path, now_ms: i64, policy: &RetentionPolicy) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file()
            && let Some(n) = entry.file_name().to_str()
        {
            names.push(n.to_string());
        }
    }
    let (_, delete) = prune_plan(&names, now_ms, policy);
    for name in &delete {
        std::fs::remove_file(dir.join(name))
            .with_context(|| format!("cannot delete old backup {name} in {}", dir.display()))?;
    }
    Ok(delete)
}

/// S3 connection settings, taken from the `backup_s3_*` configuration keys.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub bucket: String,
    pub prefix: String,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub allow_http: bool,
}

impl S3Settings {
    pub fn from_config(c: &crate::config::Config) -> Option<S3Settings> {
        Some(S3Settings {
            endpoint: c.backup_s3_endpoint.clone(),
            bucket: c.backup_s3_bucket.clone()?,
            prefix: c.backup_s3_prefix.clone(),
            region: c.backup_s3_region.clone(),
            access_key_id: c.backup_s3_access_key_id.clone(),
            secret_access_key: c.backup_s3_secret_access_key.clone(),
            allow_http: c.backup_s3_http_ok(),
        })
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix.trim_matches('/'))
    }
}

#[cfg(feature = "s3")]
pub use s3::S3Target;

#[cfg(feature = "s3")]
mod s3 {
    use std::path::Path;

    use anyhow::{Context, bail};
    use futures::TryStreamExt;
    use object_store::aws::{AmazonS3, AmazonS3Builder};
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
    use sha2::Digest;
    use tokio::io::AsyncReadExt;

    use super::S3Settings;
    use crate::backup::schedule::{RetentionPolicy, prune_plan};

    /// Parts of a multipart upload; S3 wants at least 5 MiB per part except the last.
    const PART_BYTES: usize = 8 * 1024 * 1024;

    pub struct S3Target {
        store: AmazonS3,
        prefix: String,
    }

    impl S3Target {
        pub fn new(s: &S3Settings) -> anyhow::Result<S3Target> {
            // from_env: with no keys configured, the usual AWS_* variables and instance
            // credentials apply, as with any AWS tool.
            let mut b = AmazonS3Builder::from_env()
                .with_bucket_name(&s.bucket)
                .with_region(&s.region)
                .with_allow_http(s.allow_http);
            if let Some(e) = &s.endpoint {
                // Self-hosted S3 (MinIO, Garage, moto) rarely has wildcard DNS for bucket hosts.
                b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
            }
            if let (Some(id), Some(secret)) = (&s.access_key_id, &s.secret_access_key) {
                b = b.with_access_key_id(id).with_secret_access_key(secret);
            }
            Ok(S3Target {
                store: b.build().context("invalid S3 settings")?,
                prefix: s.prefix.trim_matches('/').to_string(),
            })
        }

        fn key(&self, name: &str) -> ObjectPath {
            if self.prefix.is_empty() {
                ObjectPath::from(name)
            } else {
                ObjectPath::from(format!("{}/{name}", self.prefix))
            }
        }

        /// Streams the file up, then checks the stored size and reads it back to compare SHA-256.
        pub async fn upload(&self, file: &Path, sha256: &str) -> anyhow::Result<String> {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| anyhow::anyhow!("{} has no file name", file.display()))?;
            let key = self.key(name);
            let mut f = tokio::fs::File::open(file).await?;
            let size = f.metadata().await?.len();
            let upload = self.store.put_multipart(&key).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            let mut buf = vec![0u8; 1024 * 1024];
            let sent: anyhow::Result<()> = async {
                loop {
                    let n = f.read(&mut buf).await?;
                    if n == 0 {
                        return Ok(());
                    }
                    writer.wait_for_capacity(4).await?;
                    writer.write(&buf[..n]);
                }
            }
            .await;
            match sent {
                Ok(()) => {
                    writer.finish().await.context("S3 upload failed")?;
                }
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e.context("S3 upload failed"));
                }
            }
            let meta = self
                .store
                .head(&key)
                .await
                .context("S3 HEAD after upload failed")?;
            if meta.size != size {
                bail!("S3 holds {} bytes for {key}, expected {size}", meta.size);
            }
            let mut stream = self.store.get(&key).await?.into_stream();
            let mut h = sha2::Sha256::new();
            while let Some(chunk) = stream.try_next().await? {
                h.update(&chunk);
            }
            if hex::encode(h.finalize()) != sha256 {
                bail!("the S3 copy {key} does not read back identically (SHA-256 differs)");
            }
            Ok(key.to_string())
        }

        /// Names (without the prefix) of the objects directly under the prefix.
        pub async fn list(&self) -> anyhow::Result<Vec<String>> {
            let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
            let metas: Vec<_> = self.store.list(prefix.as_ref()).try_collect().await?;
            Ok(metas
                .into_iter()
                .filter_map(|m| m.location.filename().map(str::to_string))
                .collect())
        }

        pub async fn prune(
            &self,
            now_ms: i64,
            policy: &RetentionPolicy,
        ) -> anyhow::Result<Vec<String>> {
            let names = self.list().await?;
            let (_, delete) = prune_plan(&names, now_ms, policy);
            for name in &delete {
                self.store
                    .delete(&self.key(name))
                    .await
                    .with_context(|| format!("cannot delete old backup {name} from S3"))?;
            }
            Ok(delete)
        }

        /// Downloads a backup (still encrypted) to `dest`.
        pub async fn download(&self, name: &str, dest: &Path) -> anyhow::Result<()> {
            use tokio::io::AsyncWriteExt;
            crate::backup::archive::check_path(name)?;
            let mut stream = self
                .store
                .get(&self.key(name))
                .await
                .with_context(|| format!("cannot fetch {name} from S3"))?
                .into_stream();
            let mut out = tokio::fs::File::create(dest).await?;
            while let Some(chunk) = stream.try_next().await? {
                out.write_all(&chunk).await?;
            }
            out.sync_all().await?;
            Ok(())
        }
    }
}
