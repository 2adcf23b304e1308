"""Operations around the server: install, desktop start, service, backups, doctor."""
