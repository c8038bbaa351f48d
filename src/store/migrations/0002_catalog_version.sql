-- A per-library counter bumped by every change to what the catalog shows, so the API's in-memory
-- catalog knows with one indexed read whether it is current, whoever wrote the change (the
-- server, a scan in another process, an import).
ALTER TABLE libraries ADD COLUMN catalog_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER catalog_items_ins AFTER INSERT ON items BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1 WHERE id = NEW.library_id;
END;
CREATE TRIGGER catalog_items_upd AFTER UPDATE ON items BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1 WHERE id IN (NEW.library_id, OLD.library_id);
END;
CREATE TRIGGER catalog_items_del AFTER DELETE ON items BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1 WHERE id = OLD.library_id;
END;

CREATE TRIGGER catalog_audio_ins AFTER INSERT ON audio_files BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1
    WHERE id = (SELECT library_id FROM items WHERE id = NEW.item_id);
END;
CREATE TRIGGER catalog_audio_upd AFTER UPDATE ON audio_files BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1
    WHERE id = (SELECT library_id FROM items WHERE id = NEW.item_id);
END;
CREATE TRIGGER catalog_audio_del AFTER DELETE ON audio_files BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1
    WHERE id = (SELECT library_id FROM items WHERE id = OLD.item_id);
END;

CREATE TRIGGER catalog_chapters_ins AFTER INSERT ON chapters BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1
    WHERE id = (SELECT library_id FROM items WHERE id = NEW.item_id);
END;
CREATE TRIGGER catalog_chapters_del AFTER DELETE ON chapters BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1
    WHERE id = (SELECT library_id FROM items WHERE id = OLD.item_id);
END;

CREATE TRIGGER catalog_item_authors_ins AFTER INSERT ON item_authors BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1
    WHERE id = (SELECT library_id FROM items WHERE id = NEW.item_id);
END;
CREATE TRIGGER catalog_item_authors_del AFTER DELETE ON item_authors BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1
    WHERE id = (SELECT library_id FROM items WHERE id = OLD.item_id);
END;
CREATE TRIGGER catalog_item_series_ins AFTER INSERT ON item_series BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1
    WHERE id = (SELECT library_id FROM items WHERE id = NEW.item_id);
END;
CREATE TRIGGER catalog_item_series_upd AFTER UPDATE ON item_series BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1
    WHERE id = (SELECT library_id FROM items WHERE id = NEW.item_id);
END;
CREATE TRIGGER catalog_item_series_del AFTER DELETE ON item_series BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1
    WHERE id = (SELECT library_id FROM items WHERE id = OLD.item_id);
END;

CREATE TRIGGER catalog_authors_upd AFTER UPDATE ON authors BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1 WHERE id = NEW.library_id;
END;
CREATE TRIGGER catalog_series_upd AFTER UPDATE ON series BEGIN
    UPDATE libraries SET catalog_version = catalog_version + 1 WHERE id = NEW.library_id;
END;
