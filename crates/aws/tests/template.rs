//! What `template.yaml` lets a deployer choose fits AWS's naming rules.

use std::path::Path;

/// The longest region codes AWS has (14 characters), from the Regions list of the
/// AWS General Reference.
const LONGEST_REGIONS: [&str; 3] = ["ap-southeast-5", "ap-northeast-3", "ap-southeast-7"];

fn template() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    std::fs::read_to_string(&path).expect("template.yaml")
}

/// The longest `NamePrefix` its `AllowedPattern` admits (`^[…][…]{1,N}$`: N + 1).
fn longest_name_prefix(template: &str) -> usize {
    let block = &template[template.find("\n  NamePrefix:").expect("NamePrefix")..];
    let pattern = block
        .lines()
        .find_map(|l| l.trim().strip_prefix("AllowedPattern:"))
        .expect("NamePrefix has an AllowedPattern")
        .trim()
        .trim_matches('"');
    let quantifier = pattern
        .rsplit_once('{')
        .and_then(|(_, q)| q.strip_suffix("}$"))
        .expect("the pattern ends with a {min,max} quantifier");
    let (_, max) = quantifier.split_once(',').expect("{min,max}");
    1 + max.parse::<usize>().expect("a number")
}

/// S3 bucket names are 3–63 characters (S3 User Guide, "General purpose bucket naming
/// rules"): the longest prefix in the longest region with a 12-digit account fits.
#[test]
fn the_longest_bucket_name_the_template_allows_is_at_most_63_characters() {
    let template = template();
    let prefix = "p".repeat(longest_name_prefix(&template));
    let sub = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("BucketName: !Sub "))
        .expect("the bucket's name")
        .trim_matches('"')
        .to_string();
    assert!(sub.contains("${NamePrefix}"), "{sub}");
    for region in LONGEST_REGIONS {
        let name = sub
            .replace("${NamePrefix}", &prefix)
            .replace("${AWS::AccountId}", "123456789012")
            .replace("${AWS::Region}", region);
        assert!(!name.contains("${"), "{name}");
        assert!(name.len() <= 63, "{name} is {} characters", name.len());
    }
}

/// `scripts/check-iam.py` (run by `make validate`) passes the template, and refuses
/// it with `mediaconvert:CreateJob` scoped to the Default queue: CreateJob requires
/// none of its resource types, so a request naming none (ours) is authorised
/// against `*` only (Service Authorization Reference).
#[test]
fn the_policies_name_only_resources_their_actions_are_authorised_against() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/check-iam.py");
    let check = |path: &Path| {
        std::process::Command::new("python3")
            .arg(&script)
            .arg(path)
            .output()
            .expect("python3 runs")
    };
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
    let ok = check(&here);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    let scoped = template().replacen(
        "Action: mediaconvert:CreateJob\n            Resource: \"*\"",
        "Action: mediaconvert:CreateJob\n            Resource: !Sub \"arn:${AWS::Partition}:mediaconvert:${AWS::Region}:${AWS::AccountId}:queues/Default\"",
        1,
    );
    assert_ne!(
        scoped,
        template(),
        "the CreateJob statement is where the test expects it"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.yaml");
    std::fs::write(&path, scoped).unwrap();
    let refused = check(&path);
    let out = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success(), "{out}");
    assert!(
        out.contains("mediaconvert:CreateJob requires none of its resource types"),
        "{out}"
    );
}
