//! Bookmarks: saved requests to send through a connection again.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::sql::query::{update_all, Query};
use super::{Page, PageQuery, Store, StoreResult};
use crate::model::{Bookmark, BookmarkFilter};

const BOOKMARK_COLS: &str =
    "id, name, label, connection_id, request_id, last_used_at, created_at, updated_at";

fn bookmark(row: &AnyRow) -> StoreResult<Bookmark> {
    Ok(Bookmark {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        label: row.try_get("label")?,
        connection_id: row.try_get("connection_id")?,
        request_id: row.try_get("request_id")?,
        last_used_at: row.try_get("last_used_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn bookmark_values(q: &mut Query, b: &Bookmark) -> StoreResult<()> {
    q.values([b], |r, b| {
        r.bind(b.id.clone())
            .bind(b.name.clone())
            .bind(b.label.clone())
            .bind(b.connection_id.clone())
            .bind(b.request_id.clone())
            .bind(b.last_used_at)
            .bind(b.created_at)
            .bind(b.updated_at);
        Ok(())
    })?;
    Ok(())
}

impl Store {
    /// A name taken by another bookmark is a [`super::StoreError::Conflict`].
    pub async fn insert_bookmark(&self, b: &Bookmark) -> StoreResult<()> {
        let mut q = Query::new(&format!("INSERT INTO bookmarks ({BOOKMARK_COLS}) VALUES "));
        bookmark_values(&mut q, b)?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn update_bookmark(&self, b: &Bookmark) -> StoreResult<()> {
        let q = update_all("bookmarks", BOOKMARK_COLS, |q| bookmark_values(q, b))?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_bookmark(&self, id: &str) -> StoreResult<Option<Bookmark>> {
        self.get_one(BOOKMARK_COLS, "bookmarks", "id", id, bookmark)
            .await
    }

    pub async fn list_bookmarks(
        &self,
        f: &BookmarkFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Bookmark>> {
        let filters = |q: &mut Query| {
            q.and_eq("id", &f.id)
                .and_eq("name", &f.name)
                .and_eq("connection_id", &f.connection_id)
                .and_eq("request_id", &f.request_id)
                .and_eq("label", &f.label);
        };
        self.list(BOOKMARK_COLS, "bookmarks", &filters, page, bookmark, |b| {
            &b.id
        })
        .await
    }

    pub async fn delete_bookmark(&self, id: &str) -> StoreResult<bool> {
        let mut q = Query::new("DELETE FROM bookmarks WHERE id = ");
        q.bind(id.to_owned());
        Ok(self.execute(q).await? > 0)
    }

    /// Records that the bookmark was triggered at `now`.
    pub async fn touch_bookmark(&self, id: &str, now: i64) -> StoreResult<()> {
        let mut q = Query::new("UPDATE bookmarks SET last_used_at = ");
        q.bind(now).push(" WHERE id = ").bind(id.to_owned());
        self.execute(q).await?;
        Ok(())
    }
}
