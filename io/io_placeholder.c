/* io_placeholder: keeps snap_io non-empty until the io modules land. */
int snap_io_placeholder(void);
int snap_io_placeholder(void)
{
	return 0;
}
