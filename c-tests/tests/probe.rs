#[test]
fn probe() {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    for e in std::fs::read_dir(dir).unwrap() { println!("{:?}", e.unwrap().path()); }
}
