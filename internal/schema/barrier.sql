-- DTM's branch barrier, one per service database: the barrier rows must be
-- written in the same local transaction as the business rows they guard.
-- Columns and the unique key are the ones DTM's barrier code expects.
CREATE TABLE IF NOT EXISTS `barrier` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `trans_type` varchar(45) NOT NULL DEFAULT '',
  `gid` varchar(128) NOT NULL DEFAULT '',
  `branch_id` varchar(128) NOT NULL DEFAULT '',
  `op` varchar(45) NOT NULL DEFAULT '',
  `barrier_id` varchar(45) NOT NULL DEFAULT '',
  `reason` varchar(45) NOT NULL DEFAULT '' COMMENT 'the op that inserted this row',
  `create_time` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `update_time` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uniq_barrier` (`gid`, `branch_id`, `op`, `barrier_id`),
  KEY `idx_create_time` (`create_time`)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
