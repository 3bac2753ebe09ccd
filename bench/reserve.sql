-- pgbench: the Restaurant Service's reservation transaction (lock + update + ledger insert)
-- on one hot menu, at the same concurrency as the POST /orders run.
BEGIN;
SELECT stock FROM menus WHERE id = :menu FOR UPDATE;
UPDATE menus SET stock = stock - 1 WHERE id = :menu;
INSERT INTO inventory_ledger (menu_id, order_id, kind, quantity, created_at) VALUES (:menu, NULL, 'reserve', 1, now());
END;
