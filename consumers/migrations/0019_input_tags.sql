-- Dataset inputs keep all their tags (schema v7), in the order the client sent them, as two parallel arrays;
-- rows from older events have none (their context column still holds the one tag they kept).
ALTER TABLE inputs ADD COLUMN IF NOT EXISTS tag_keys Array(String) AFTER profile;
ALTER TABLE inputs ADD COLUMN IF NOT EXISTS tag_values Array(String) AFTER tag_keys
